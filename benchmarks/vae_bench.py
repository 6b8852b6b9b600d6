"""VAE test bounds on real data: ELBO and IWAE (K = 1000), nats per example.

Trains each config with the generic trainer (``train.train_and_evaluate``)
and records the final test ELBO (one sample) and the IWAE bound, both on the
fixed stochastic binarisation of the test set, with steps and wall time. The
raw-pixel baseline and the t-SNE picture are switched off: the bounds are the
result here, and on Fashion-MNIST they would add minutes.

Run (records to benchmarks/results/autoencoders.jsonl):
  python -m benchmarks.vae_bench --configs vae_digits,vae_fashion_mnist

Quick check without recording:
  python -m benchmarks.vae_bench --configs vae_digits --steps 200 \
      --iwae-samples 50 --no-record
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile

from benchmarks.record import append_record
from jaxssl import train
from tests.helpers import load_config

OVERRIDES = {"evals.raw_baseline": False, "evals.embedding_plot": False}


def _describe(config, image_shape) -> str:
    model = config.model
    if model.name == "mlp":
        widths = (math.prod(image_shape), *model.hidden, model.latent_dim)
        arch = "MLP " + "-".join(str(w) for w in widths)
    else:
        arch = f"conv {tuple(model.features)}, latent {model.latent_dim}"
    parts = [arch, f"{config.method.likelihood} decoder"]
    if "binarize" in config.input.augment:
        parts.append("dynamic binarisation")
    if config.method.binarize_eval:
        parts.append("fixed binarised test set")
    if config.method.beta != 1.0:
        parts.append(f"beta {config.method.beta}")
    return ", ".join(parts)


def bench(
    name: str,
    *,
    steps: int | None,
    iwae_samples: int | None,
    workdir: str | None,
    record: bool,
) -> dict:
    """Train ``configs/<name>.py`` once; return its summary (and record it)."""
    config = load_config(name)
    overrides = dict(OVERRIDES)
    if steps is not None:
        overrides["train.total_steps"] = steps
        warmup = config.optim.schedule.warmup_steps
        overrides["optim.schedule.warmup_steps"] = min(warmup, max(1, steps // 10))
    if iwae_samples is not None:
        overrides["method.iwae_samples"] = iwae_samples
    for path, value in overrides.items():
        section, field = path.rsplit(".", 1)
        node = config
        for part in section.split("."):
            node = node[part]
        node[field] = value
    if workdir and os.path.exists(workdir) and os.listdir(workdir):
        # The trainer would resume from its checkpoint: not a timed run.
        raise ValueError(f"workdir {workdir} is not empty; use a new one")
    workdir = workdir or tempfile.mkdtemp(prefix=f"vae_bench_{name}_")
    exp = train.build_experiment(config)
    summary = train.train_and_evaluate(config, workdir, exp=exp, progress=False)
    samples = config.method.iwae_samples
    print(
        f"{name}: test ELBO {summary['test_elbo']:.2f} nats, "
        f"IWAE(K={samples}) {summary.get(f'test_iwae_{samples}', float('nan')):.2f}"
        f" nats, {summary['steps']} steps, {summary['wall_s']:.0f} s ({workdir})"
    )
    if record:
        common = dict(
            method="vae",
            dataset=summary["dataset"],
            setting=_describe(config, exp.dataset.image_shape),
            steps=summary["steps"],
            wall_s=round(summary["wall_s"], 1),
            config=f"configs/{name}.py"
            + "".join(f" --config.{k}={v}" for k, v in overrides.items()),
            command=" ".join(["python -m benchmarks.vae_bench", *sys.argv[1:]]),
        )
        metrics = {"test_elbo_nats": summary["test_elbo"]}
        if samples:
            metrics[f"test_iwae{samples}_nats"] = summary[f"test_iwae_{samples}"]
        for metric, value in metrics.items():
            append_record(
                "autoencoders", metric=metric, value=round(value, 3), **common
            )
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--configs", default="vae_digits,vae_fashion_mnist")
    parser.add_argument("--steps", type=int, default=None, help="total_steps")
    parser.add_argument("--iwae-samples", type=int, default=None)
    parser.add_argument("--workdir", default=None, help="root of the run folders")
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()
    for name in args.configs.split(","):
        workdir = os.path.join(args.workdir, name) if args.workdir else None
        bench(
            name,
            steps=args.steps,
            iwae_samples=args.iwae_samples,
            workdir=workdir,
            record=not args.no_record,
        )


if __name__ == "__main__":
    main()
