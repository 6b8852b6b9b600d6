"""Autoencoder family: linear probe / kNN on learned codes vs raw pixels.

Trains each autoencoder config with the generic trainer and records, per
method and dataset, the linear-probe and kNN test accuracies of its codes next
to the raw-pixel baselines, the test reconstruction MSE and, where the config
evaluates on corrupted inputs, the MSE of reconstructing clean test images
from noisy ones (denoising vs plain autoencoder on equal inputs).

Run (records to benchmarks/results/autoencoders.jsonl):
  python -m benchmarks.autoencoders_bench --datasets digits,fashion_mnist
  python -m benchmarks.autoencoders_bench --datasets digits --methods autoencoder
"""

from __future__ import annotations

import argparse
import os
import tempfile

from benchmarks.record import append_record
from jaxssl import train
from tests.helpers import load_config

METHODS = (
    "autoencoder",
    "sparse_ae",
    "denoising_ae",
    "contractive_ae",
    "stacked_ae",
    "conv_ae",
)
METRICS = (
    "linear_probe_accuracy",
    "linear_probe_raw_accuracy",
    "knn_accuracy",
    "knn_raw_accuracy",
    "test_mse",
    "test_noisy_mse",
)


def run(method: str, dataset: str, workroot: str, eval_noise: str) -> dict:
    name = f"{method}_{dataset}"
    config = load_config(name)
    config.evals.embedding_plot = False
    if not config.method.get("eval_noise") and "eval_noise" in config.method:
        config.method.eval_noise = eval_noise  # Plain AEs face the DAE's test noise.
    workdir = os.path.join(workroot, name)
    summary = train.train_and_evaluate(config, workdir, progress=False)
    for metric in METRICS:
        if metric not in summary:
            continue
        append_record(
            "autoencoders",
            method=config.method.name
            if method != "sparse_ae"
            else "sparse_autoencoder",
            dataset=summary["dataset"],
            setting=method,
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
    parser.add_argument("--eval-noise", default="noise(std=0.4)")
    parser.add_argument("--workroot", default=None)
    args = parser.parse_args()
    workroot = args.workroot or tempfile.mkdtemp(prefix="jaxssl_ae_bench_")
    for dataset in args.datasets.split(","):
        for method in args.methods.split(","):
            summary = run(method, dataset, workroot, args.eval_noise)
            shown = {k: round(summary[k], 4) for k in METRICS if k in summary}
            print(f"{method:>15s} {dataset:>14s} {shown}", flush=True)


if __name__ == "__main__":
    main()
