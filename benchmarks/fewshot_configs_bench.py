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

``--seeds 0,1,2`` trains each config once per seed and records, per test
shot, the mean over seeds with its 95% interval (the spread of training: the
test episodes are the same for every seed), each seed's accuracy and test
interval, and the lowest and highest seed.

Run (the default list: every method's Fashion-MNIST config; about 2-5
minutes each on the 2-core CPU):
  python -m benchmarks.fewshot_configs_bench
  python -m benchmarks.fewshot_configs_bench --configs matching_fashion_mnist+fce
  python -m benchmarks.fewshot_configs_bench --configs maml_fashion_mnist \\
      --seeds 0,1,2,3,4,5,6,7,8,9

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
from jaxssl.evaluation import mean_confidence_interval

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


def parse_seeds(text: str | None, sets: list[str]) -> list[int] | None:
    """``--seeds``: None (one run with the config's seed) or >= 2 distinct seeds."""
    if text is None:
        return None
    try:
        seeds = [int(s) for s in text.split(",")]
    except ValueError:
        raise ValueError(
            f"--seeds={text!r} must be comma-separated integers, e.g. 0,1,2"
        ) from None
    if len(seeds) < 2 or len(set(seeds)) != len(seeds):
        raise ValueError(
            f"--seeds={text!r} needs at least two distinct seeds (one run: "
            "--set seed=N)"
        )
    if any(s.partition("=")[0].strip() == "seed" for s in sets):
        raise ValueError("--seeds and --set seed=N are exclusive: give one")
    return seeds


def seed_summary(values: list[float], ci95s: list[float]) -> dict:
    """Record fields for one config and shot trained with several seeds.

    ``value`` / ``ci95`` are the mean over training seeds and its 95%
    interval (the spread of training, test episodes fixed); each seed's own
    test-episode interval stays in ``per_seed_ci95``.
    """
    mean, half = mean_confidence_interval(values)
    return {
        "value": round(mean, 4),
        "ci95": round(half, 4),
        "per_seed": [round(v, 4) for v in values],
        "per_seed_ci95": [round(c, 4) for c in ci95s],
        "min": round(min(values), 4),
        "max": round(max(values), 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--configs", default=",".join(FASHION_CONFIGS))
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        help="FIELD=VALUE applied to every config (repeatable)",
    )
    parser.add_argument(
        "--seeds",
        help="train each config once per seed (comma-separated, >= 2) and "
        "record the mean over seeds with its 95%% interval",
    )
    parser.add_argument("--workdir", help="keep the runs here (default: a tmp dir)")
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()
    names = args.configs.split(",")
    seeds = parse_seeds(args.seeds, args.set)
    configs = {name: load(name, args.set) for name in names}  # fail before training
    root = args.workdir or tempfile.mkdtemp(prefix="fewshot_configs_")
    for name, config in configs.items():
        # One shot -> [(value, ci95)] per seed; the config's own seed if none.
        scores: dict[int, list[tuple[float, float]]] = {}
        runs = []
        start = time.perf_counter()
        for seed in seeds or [config.seed]:
            config.seed = seed
            workdir = os.path.join(root, name.replace("+", "_"))
            if seeds:
                workdir += f"_seed{seed}"
            tick = time.perf_counter()
            summary = episodic.train_and_evaluate(config, workdir, progress=False)
            runs.append(summary)
            way = config.episodes.way
            # An empty test_shots tests the training shot (the MAML family's).
            for shot in tuple(config.episodes.test_shots) or (config.episodes.shot,):
                key = f"test_{way}way_{shot}shot_accuracy"
                value, ci95 = summary[key], summary[f"{key}_ci95"]
                scores.setdefault(shot, []).append((value, ci95))
                baseline = FASHION_RAW_PIXELS.get(shot) if way == 5 else None
                print(
                    f"{name:28s} {way}-way {shot}-shot"
                    + (f", seed {seed}" if seeds else "")
                    + f": {value:.3f} +- {ci95:.3f}"
                    + (f" (raw pixels {baseline:.3f})" if baseline else "")
                    + f", {summary['steps']} steps (tested step "
                    f"{summary['tested_step']}), "
                    f"{time.perf_counter() - tick:.0f} s",
                    flush=True,
                )
        wall = time.perf_counter() - start
        method = config.method.name
        method += "_first_order" if config.method.get("first_order") else ""
        method += "_fce" if config.method.get("fce") else ""
        for shot, pairs in scores.items():
            values, ci95s = (list(x) for x in zip(*pairs, strict=True))
            if seeds:
                fields = seed_summary(values, ci95s)
                fields["seeds"] = seeds
                print(
                    f"{name:28s} {way}-way {shot}-shot, mean of {len(seeds)} seeds: "
                    f"{fields['value']:.3f} +- {fields['ci95']:.3f} "
                    f"(min {fields['min']:.3f}, max {fields['max']:.3f})",
                    flush=True,
                )
            else:
                fields = {"value": round(values[0], 4), "ci95": round(ci95s[0], 4)}
            if args.no_record:
                continue
            extras = [f"mean of {len(seeds)} seeds"] if seeds else []
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
                    + "".join(f", {s}" for s in [*args.set, *extras])
                ),
                metric="accuracy",
                **fields,
                steps=runs[-1]["steps"],
                tested_step=[r["tested_step"] for r in runs]
                if seeds
                else runs[0]["tested_step"],
                wall_s=round(wall, 1),
                # With --seeds, the seeds replace the last run's seed.
                config={**config.to_dict(), **({"seed": seeds} if seeds else {})},
                command=" ".join(
                    ["python -m benchmarks.fewshot_configs_bench", *sys.argv[1:]]
                ),
            )


if __name__ == "__main__":
    main()
