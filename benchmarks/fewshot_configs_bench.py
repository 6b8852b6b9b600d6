"""The shipped few-shot configs, run end to end through ``jaxssl train``.

Each config in ``--configs`` is trained and tested by the episodic runner
(:func:`jaxssl.episodic.train_and_evaluate`, what ``jaxssl train`` calls),
exactly as shipped unless ``--set`` changes a field; a name ending in
``+fce`` is the same config with ``method.fce=True``. One record per test
shot goes to ``benchmarks/results/few_shot.jsonl``: the 5-way accuracy over
600 novel-class episodes with its 95% interval, for the parameters that
scored best on meta-validation, with the run's training steps and wall time.

On the Fashion-MNIST class split the baseline is nearest class means of raw
pixels on the same kind of episodes: 0.578 +- 0.007 (1-shot) and
0.745 +- 0.005 (5-shot) in ``benchmarks/fewshot_bench.py``'s records.

Run (the default list: every method's Fashion-MNIST config; about 2-5
minutes each on the 2-core CPU):
  python -m benchmarks.fewshot_configs_bench
  python -m benchmarks.fewshot_configs_bench --configs matching_fashion_mnist+fce

Elsewhere (a machine without /usr/share/datasets/fashion-mnist):
  python -m benchmarks.fewshot_configs_bench \\
      --set episodes.dataset=idx:.data/fashion-mnist
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

from benchmarks.record import append_record
from jaxssl import episodic
from jaxssl.config_utils import apply_overrides, load_config_file

CONFIG_DIR = os.path.join(os.path.dirname(os.path.dirname(__file__)), "configs")
FASHION_CONFIGS = (
    "protonet_fashion_mnist",
    "matching_fashion_mnist",
    "matching_fashion_mnist+fce",
    "maml_fashion_mnist",
    "fomaml_fashion_mnist",
    "anil_fashion_mnist",
    "meta_sgd_fashion_mnist",
    "meta_lstm_fashion_mnist",
    "finetune_fashion_mnist",
    "cosine_fashion_mnist",
)
FASHION_RAW_PIXELS = {1: 0.578, 5: 0.745}  # fewshot_bench, nearest class means


def load(name: str, sets: list[str]):
    """The config ``name`` (``+fce``: with full-context embeddings) and ``sets``."""
    base, _, variant = name.partition("+")
    if variant not in ("", "fce"):
        raise ValueError(f"config {name!r}: the only variant is '+fce'")
    config = load_config_file(os.path.join(CONFIG_DIR, f"{base}.py"))
    if variant == "fce":
        if "fce" not in config.method:
            raise ValueError(f"config {base!r} has no method.fce field")
        config.method.fce = True
    apply_overrides(config, sets)  # jaxssl train's --config.FIELD=VALUE rules
    return config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--configs", default=",".join(FASHION_CONFIGS))
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        help="FIELD=VALUE applied to every config (repeatable)",
    )
    parser.add_argument("--workdir", help="keep the runs here (default: a tmp dir)")
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()
    names = args.configs.split(",")
    configs = {name: load(name, args.set) for name in names}  # fail before training
    root = args.workdir or tempfile.mkdtemp(prefix="fewshot_configs_")
    for name, config in configs.items():
        workdir = os.path.join(root, name.replace("+", "_"))
        start = time.perf_counter()
        summary = episodic.train_and_evaluate(config, workdir, progress=False)
        wall = time.perf_counter() - start
        method = config.method.name
        method += "_first_order" if config.method.get("first_order") else ""
        method += "_fce" if config.method.get("fce") else ""
        way = config.episodes.way
        # An empty test_shots tests the training shot (the MAML family's).
        for shot in tuple(config.episodes.test_shots) or (config.episodes.shot,):
            key = f"test_{way}way_{shot}shot_accuracy"
            value, ci95 = summary[key], summary[f"{key}_ci95"]
            baseline = FASHION_RAW_PIXELS.get(shot) if way == 5 else None
            print(
                f"{name:28s} {way}-way {shot}-shot: {value:.3f} +- {ci95:.3f}"
                + (f" (raw pixels {baseline:.3f})" if baseline else "")
                + f", {summary['steps']} steps (tested step "
                f"{summary['tested_step']}), {wall:.0f} s",
                flush=True,
            )
            if args.no_record:
                continue
            append_record(
                "few_shot",
                method=method,
                dataset=(
                    "fashion_mnist_class_split"
                    if "fashion" in name
                    else config.episodes.dataset
                ),
                setting=(
                    f"configs/{name.partition('+')[0]}.py through jaxssl train"
                    + (" with method.fce=True" if name.endswith("+fce") else "")
                    + f", 5-way {shot}-shot test"
                    + (f", {', '.join(args.set)}" if args.set else "")
                ),
                metric="accuracy",
                value=round(value, 4),
                ci95=round(ci95, 4),
                steps=summary["steps"],
                tested_step=summary["tested_step"],
                wall_s=round(wall, 1),
                config=config.to_dict(),
                command=" ".join(
                    ["python -m benchmarks.fewshot_configs_bench", *sys.argv[1:]]
                ),
            )


if __name__ == "__main__":
    main()
