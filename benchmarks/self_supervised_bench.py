"""Self-supervised methods: linear probe / kNN vs raw pixels and a random encoder.

Trains each method's config with the generic trainer and records the
linear-probe and kNN test accuracies of its encoder features, next to the
raw-pixel baselines and the same encoder at its random initialisation (the
trainer's own initial parameters), with the training budget (steps, wall
time, device).

Run (records to benchmarks/results/self_supervised.jsonl):
  python -m benchmarks.self_supervised_bench --datasets digits
  python -m benchmarks.self_supervised_bench --datasets fashion_mnist --methods simclr
"""

from __future__ import annotations

import argparse
import os
import tempfile

import jax

from benchmarks.record import append_record
from jaxssl import train
from jaxssl.config_utils import apply_overrides
from tests.helpers import load_config

METHODS = (
    "simclr",
    "byol",
    "moco",
    "instdisc",
    "cpc",
    "cmc",
    "rotation",
    "jigsaw",
    "deepcluster",
)
# Held-out accuracy on the method's own pretext task, where it has one.
PRETEXT_METRICS = ("test_pretext_accuracy",)
METRICS = (
    "linear_probe_accuracy",
    "linear_probe_raw_accuracy",
    "knn_accuracy",
    "knn_raw_accuracy",
)


def random_init_metrics(exp: train.Experiment) -> dict[str, float]:
    """Probe and kNN of the untrained encoder, as the trainer initialises it."""
    rng_init, _ = jax.random.split(jax.random.key(exp.config.seed))
    state = jax.device_get(train.init_state(exp, rng_init))
    results = train.evaluate(exp, state.params, state.extra, full=True)
    return {
        "random_init_linear_probe_accuracy": results["linear_probe_accuracy"],
        "random_init_knn_accuracy": results["knn_accuracy"],
    }


def run(method: str, dataset: str, workroot: str, overrides: list[str]) -> dict:
    name = f"{method}_{dataset}"
    config = load_config(name)
    apply_overrides(config, overrides)
    config.evals.embedding_plot = False
    workdir = os.path.join(workroot, name)
    exp = train.build_experiment(config)  # One dataset load for both.
    summary = train.train_and_evaluate(config, workdir, exp=exp, progress=False)
    summary.update(random_init_metrics(exp))
    batch = config.input.batch_size
    epochs = summary["steps"] * batch / exp.train_images.shape[0]
    setting = f"{summary['steps']} steps, batch {batch} ({epochs:.1f} epochs)"
    if overrides:
        setting += f" ({' '.join(overrides)})"
    extra = [k for k in summary if k.startswith("random_init") or k in PRETEXT_METRICS]
    for metric in METRICS + tuple(extra):
        append_record(
            "self_supervised",
            method=method,
            dataset=summary["dataset"],
            setting=setting,
            metric=metric,
            value=round(float(summary[metric]), 4),
            steps=summary["steps"],
            wall_s=round(summary["wall_s"], 1),
            config=f"configs/{name}.py",
        )
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", default="digits,fashion_mnist")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--set", action="append", default=[], help="FIELD=VALUE")
    parser.add_argument("--workroot", default=None)
    args = parser.parse_args()
    workroot = args.workroot or tempfile.mkdtemp(prefix="jaxssl_ssl_bench_")
    for dataset in args.datasets.split(","):
        for method in args.methods.split(","):
            summary = run(method, dataset, workroot, args.set)
            keys = METRICS + ("random_init_linear_probe_accuracy",)
            shown = {k: round(summary[k], 4) for k in keys + ("wall_s",)}
            print(f"{method:>8s} {dataset:>14s} {shown}", flush=True)


if __name__ == "__main__":
    main()
