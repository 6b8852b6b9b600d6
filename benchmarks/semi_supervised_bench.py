"""Semi-supervised by pretraining: pretrained encoder + classifier vs scratch.

Pretrains an autoencoder on all training images (no labels), then trains the
same encoder + linear head on ``labels_per_class`` labels per class, once from
the pretrained encoder (fine-tuned, and frozen) and once from a random
initialisation, for several seeds. Each seed draws its own labeled subset and
initialisation; the pretrained autoencoder is shared.

Run (records to benchmarks/results/semi_supervised.jsonl):
  python -m benchmarks.semi_supervised_bench --dataset fashion_mnist --seeds 0,1,2
  python -m benchmarks.semi_supervised_bench --dataset fashion_mnist \
      --pretrain-config denoising_ae_fashion_mnist --set optim.lr=3e-4

``--pretrain-set`` / ``--set`` take ``field=value`` overrides for the
pretraining and the classifier configs; the classifier always uses the
pretraining config's ``model`` section, so every variant has the same network.
"""

from __future__ import annotations

import argparse
import os
import tempfile

import numpy as np

from benchmarks.record import append_record
from jaxssl import train
from jaxssl.config_utils import apply_overrides
from tests.helpers import load_config


def classify(
    dataset: str,
    workdir: str,
    seed: int,
    pretrained: str,
    freeze: bool,
    model,
    overrides,
):
    config = load_config(f"classifier_{dataset}")
    config.model = model
    apply_overrides(config, overrides)
    config.seed = seed
    config.input.label_seed = seed
    config.method.pretrained = pretrained
    config.method.freeze_encoder = freeze
    config.evals.embedding_plot = False
    config.evals.raw_baseline = False
    config.evals.final_probe = False  # test_accuracy is the figure here
    summary = train.train_and_evaluate(config, workdir, progress=False)
    return summary["test_accuracy"], config.input.labels_per_class


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", default="fashion_mnist")
    parser.add_argument("--pretrain-config", default=None)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--workroot", default=None)
    parser.add_argument(
        "--pretrain-set", action="append", default=[], help="FIELD=VALUE"
    )
    parser.add_argument(
        "--set", action="append", default=[], help="FIELD=VALUE (classifier)"
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="print figures, record nothing"
    )
    args = parser.parse_args()
    root = args.workroot or tempfile.mkdtemp(prefix="jaxssl_semi_")
    pre_name = args.pretrain_config or f"autoencoder_{args.dataset}"
    pre_dir = os.path.join(root, pre_name)
    pre_config = load_config(pre_name)
    apply_overrides(pre_config, args.pretrain_set)
    pre_config.evals.embedding_plot = False
    pre_summary = train.train_and_evaluate(pre_config, pre_dir, progress=False)
    print(f"pretrained {pre_name}: {pre_summary.get('linear_probe_accuracy')}")

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
            accuracy, k = classify(
                args.dataset,
                workdir,
                seed,
                pretrained,
                freeze,
                pre_config.model,
                args.set,
            )
            results[name].append(accuracy)
            print(f"seed {seed} {name:>20s}: {accuracy:.4f}", flush=True)
    overrides = " ".join(args.pretrain_set + args.set)
    setting = f"{k} labels/class, pretrain {pre_name}"
    if overrides:
        setting += f" ({overrides})"
    for name, values in results.items():
        print(f"{name:>20s}: {np.mean(values):.4f} +- {np.std(values):.4f}")
        if args.dry_run:
            continue
        append_record(
            "semi_supervised",
            method=f"classifier_{name}",
            dataset=args.dataset,
            setting=setting,
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
