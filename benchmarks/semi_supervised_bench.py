"""Semi-supervised by pretraining: pretrained encoder + classifier vs scratch.

Pretrains an autoencoder on all training images (no labels), then trains the
same encoder + linear head on ``labels_per_class`` labels per class, once from
the pretrained encoder (fine-tuned, and frozen) and once from a random
initialisation, for several seeds. Each seed draws its own labeled subset and
initialisation; the pretrained autoencoder is shared.

Run (records to benchmarks/results/semi_supervised.jsonl):
  python -m benchmarks.semi_supervised_bench --dataset fashion_mnist --seeds 0,1,2
"""

from __future__ import annotations

import argparse
import os
import tempfile

import numpy as np

from benchmarks.record import append_record
from jaxssl import train
from tests.helpers import load_config


def classify(dataset: str, workdir: str, seed: int, pretrained: str, freeze: bool):
    config = load_config(f"classifier_{dataset}")
    config.seed = seed
    config.input.label_seed = seed
    config.method.pretrained = pretrained
    config.method.freeze_encoder = freeze
    config.evals.embedding_plot = False
    config.evals.raw_baseline = False
    summary = train.train_and_evaluate(config, workdir, progress=False)
    return summary["test_accuracy"], config.input.labels_per_class


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", default="fashion_mnist")
    parser.add_argument("--pretrain-config", default=None)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--workroot", default=None)
    args = parser.parse_args()
    root = args.workroot or tempfile.mkdtemp(prefix="jaxssl_semi_")
    pre_name = args.pretrain_config or f"autoencoder_{args.dataset}"
    pre_dir = os.path.join(root, pre_name)
    pre_config = load_config(pre_name)
    pre_config.evals.embedding_plot = False
    train.train_and_evaluate(pre_config, pre_dir, progress=False)

    seeds = [int(s) for s in args.seeds.split(",")]
    variants = {
        "scratch": ("", False),
        "pretrained_finetune": (pre_dir, False),
        "pretrained_frozen": (pre_dir, True),
    }
    results = {name: [] for name in variants}
    k = None
    for seed in seeds:
        for name, (pretrained, freeze) in variants.items():
            workdir = os.path.join(root, f"{name}_{seed}")
            accuracy, k = classify(args.dataset, workdir, seed, pretrained, freeze)
            results[name].append(accuracy)
            print(f"seed {seed} {name:>20s}: {accuracy:.4f}", flush=True)
    for name, values in results.items():
        append_record(
            "semi_supervised",
            method=f"classifier_{name}",
            dataset=args.dataset,
            setting=f"{k} labels/class, pretrain {pre_name}",
            metric="test_accuracy",
            value=round(float(np.mean(values)), 4),
            std=round(float(np.std(values)), 4),
            seeds=seeds,
            per_seed=[round(float(v), 4) for v in values],
            config=f"configs/classifier_{args.dataset}.py",
        )
    margin = np.array(results["pretrained_finetune"]) - np.array(results["scratch"])
    print(f"fine-tuned minus scratch per seed: {np.round(margin, 4)}")


if __name__ == "__main__":
    main()
