"""The ``jaxssl`` command line: parses arguments and calls the library.

  jaxssl train CONFIG [--workdir DIR] [--config.a.b=value ...]
  jaxssl eval WORKDIR
  jaxssl cluster [--dataset D | --encoder WORKDIR] [--method M] [--pca-components K]
  jaxssl list

User errors (unknown config fields, wrong types, out-of-range values, missing
data) print one line naming the field and what is allowed, and exit with 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from jaxssl.config_utils import UsageError, apply_overrides, load_config_file

EXIT_USAGE = 2


# --------------------------------------------------------------------------
# Commands


def _cmd_train(args: argparse.Namespace, overrides: list[str]) -> int:
    from jaxssl import episodic, train

    config = load_config_file(args.config)
    apply_overrides(config, overrides)
    workdir = args.workdir or os.path.join("runs", Path(args.config).stem)
    # Few-shot configs (an `episodes` section) run the episodic loop.
    runner = episodic if episodic.is_episodic(config) else train
    try:
        exp = runner.build_experiment(config)
    except (ValueError, FileNotFoundError) as e:
        raise UsageError(str(e)) from None
    config.lock()
    try:
        summary = runner.train_and_evaluate(
            config, workdir, exp=exp, progress=args.progress
        )
    except train.NonFiniteLossError as e:
        print(f"jaxssl: error: {e}", file=sys.stderr)
        return 1
    _print_summary(summary, workdir)
    return 0


def _print_summary(summary: dict[str, Any], workdir: str) -> None:
    keys = [k for k in summary if k.endswith("accuracy") or k.startswith("test_")]
    print(
        f"\n{summary['method']} on {summary['dataset']}: {summary['steps']} steps, "
        f"{summary['steps_per_sec']:.1f} steps/s, {summary['wall_s']:.0f} s"
    )
    for key in sorted(keys):
        print(f"  {key:32s} {summary[key]:.4f}")
    print(f"summary: {os.path.join(workdir, 'summary.json')}")


def _cmd_eval(args: argparse.Namespace) -> int:
    from jaxssl import episodic, train

    try:
        runner = episodic if _is_episodic_workdir(args.workdir) else train
        results = runner.evaluate_checkpoint(args.workdir)
    except (ValueError, FileNotFoundError) as e:
        raise UsageError(str(e)) from None
    for key in sorted(results):
        print(f"  {key:32s} {results[key]:.4f}")
    print(f"written: {os.path.join(args.workdir, 'eval.json')}")
    return 0


def _is_episodic_workdir(workdir: str) -> bool:
    path = os.path.join(workdir, "config.json")
    if not os.path.exists(path):
        return False
    with open(path) as f:
        return "episodes" in json.load(f)


def _cmd_list(args: argparse.Namespace) -> int:
    from jaxssl import data, methods, optim
    from jaxssl.meta.fewshot_methods import FEWSHOT_METHODS

    print("methods:   " + ", ".join(methods.method_names()))
    print("few-shot:  " + ", ".join(FEWSHOT_METHODS) + " (configs with `episodes`)")
    print("datasets:")
    for form in data.DATASETS:
        print(f"  {form.spec:12s} {form.description}")
    print("optimizers: " + ", ".join(optim.OPTIMIZERS))
    print("schedules: " + ", ".join(optim.SCHEDULES))
    config_dir = Path(args.configs)
    configs = sorted(p for p in config_dir.glob("*.py") if not p.name.startswith("_"))
    print(f"configs ({config_dir}): " + (", ".join(str(p) for p in configs) or "none"))
    return 0


def _cmd_cluster(args: argparse.Namespace) -> int:
    import numpy as np

    from jaxssl import data as data_lib
    from jaxssl import train
    from jaxssl.evaluation.clustering import run_clustering

    try:
        if args.encoder:
            exp, state = train.restore_run(args.encoder)
            ds = exp.dataset
            images = ds.test_images if args.split == "test" else ds.train_images
            labels = ds.test_labels if args.split == "test" else ds.train_labels
            encode = lambda x: exp.method.encode(state.params, state.extra, x)  # noqa: E731
            features = train.batched_apply(encode, images)
            name = f"encoder:{args.encoder}"
        else:
            ds = data_lib.load_dataset(args.dataset)
            images = ds.test_images if args.split == "test" else ds.train_images
            labels = ds.test_labels if args.split == "test" else ds.train_labels
            features, name = images, "pixels"
        if args.pca_components:
            name += f"+pca{args.pca_components}"
        metrics = run_clustering(
            np.asarray(features),
            labels,
            method=args.method,
            num_clusters=args.num_clusters or ds.num_classes,
            features_name=name,
            workdir=args.workdir,
            seed=args.seed,
            pca_components=args.pca_components or None,
        )
    except (ValueError, FileNotFoundError) as e:
        raise UsageError(str(e)) from None
    for key in ("accuracy", "nmi", "ari"):
        print(f"  {key:10s} {metrics[key]:.4f}")
    print(f"written: {os.path.join(args.workdir, 'cluster_metrics.json')}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jaxssl", description="Self- and semi-supervised learning in JAX."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("train", help="train a config (resumes from its workdir)")
    p.add_argument(
        "config", help="path to a config file, e.g. configs/autoencoder_digits.py"
    )
    p.add_argument(
        "--workdir", default=None, help="output folder (default runs/<config>)"
    )
    p.add_argument(
        "--no-progress",
        dest="progress",
        action="store_false",
        help="hide the progress bar",
    )
    p = sub.add_parser("eval", help="re-evaluate the latest checkpoint of a workdir")
    p.add_argument("workdir")
    p = sub.add_parser(
        "cluster", help="cluster raw pixels, PCA features or a trained encoder's codes"
    )
    p.add_argument("--dataset", default="digits", help="dataset spec (pixels)")
    p.add_argument(
        "--encoder", default="", help="workdir of a trained run to encode with"
    )
    p.add_argument("--method", default="kmeans", help="kmeans, gmm or agglomerative")
    p.add_argument("--num-clusters", type=int, default=0, help="0 = number of classes")
    p.add_argument("--pca-components", type=int, default=0, help="cluster PCA features")
    p.add_argument("--split", default="test", choices=("train", "test"))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workdir", default="runs/cluster")
    p = sub.add_parser("list", help="list methods, datasets, optimizers and configs")
    p.add_argument("--configs", default="configs", help="folder of config files")
    return parser


FAKE_DEVICE_XLA_FLAGS = (
    "--xla_cpu_multi_thread_eigen=false",
    "--xla_cpu_collective_call_terminate_timeout_seconds=900",
    "--xla_cpu_collective_timeout_seconds=900",
)


def _fake_device_flags() -> None:
    """Keep XLA:CPU collectives alive when it fakes several devices on few cores.

    With ``--xla_force_host_platform_device_count=N`` every fake device's
    collectives meet in an in-process rendezvous that XLA aborts after 40 s.
    On a loaded 2-core machine the N device threads (competing with Eigen's
    intra-op pool) can take longer than that to arrive. Single-threaded Eigen
    per device and a longer timeout avoid the abort. Runs before JAX starts.
    """
    flags = os.environ.get("XLA_FLAGS", "")
    if "xla_force_host_platform_device_count" not in flags:
        return
    extra = [f for f in FAKE_DEVICE_XLA_FLAGS if f.split("=")[0] not in flags]
    os.environ["XLA_FLAGS"] = " ".join([flags, *extra])


def main(argv: Sequence[str] | None = None) -> int:
    _fake_device_flags()
    argv = list(sys.argv[1:] if argv is None else argv)
    overrides = [a for a in argv if a.startswith("--config.")]
    rest = [a for a in argv if not a.startswith("--config.")]
    parser = build_parser()
    args = parser.parse_args(rest)
    if overrides and args.command != "train":
        parser.error("--config.* overrides only apply to `jaxssl train`")
    try:
        if args.command == "train":
            return _cmd_train(args, overrides)
        if args.command == "eval":
            return _cmd_eval(args)
        if args.command == "cluster":
            return _cmd_cluster(args)
        return _cmd_list(args)
    except UsageError as e:
        print(f"jaxssl: error: {e}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
