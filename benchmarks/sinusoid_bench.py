"""Sinusoid regression (the MAML paper's family): MAML vs Meta-SGD after adaptation.

For K = 5, 10 and 20 shots, meta-trains the MAML paper's regressor (MLP
1-40-40-1, ReLU) with second-order MAML (inner lr 0.01) and with Meta-SGD
(per-parameter inner rates, initialised uniformly in [0.005, 0.1] as in the
Meta-SGD paper), one inner step each, Adam (lr 1e-3) on batches of 25 tasks
whose support and query sets have K points each. Then both adapt with one
step to the same test tasks (K support points, 100 query points) and the
post-adaptation query MSE is reported as a mean over tasks with a 95%
confidence interval (1.96 standard errors).

Reference (Meta-SGD paper, Table 1, sinusoid, one step, 95% CI over tasks):
MAML 0.686 +- 0.070 / 0.435 +- 0.039 / 0.228 +- 0.024 and Meta-SGD
0.482 +- 0.061 / 0.258 +- 0.026 / 0.127 +- 0.017 for 5 / 10 / 20 shots.

Run (records to benchmarks/results/few_shot.jsonl):
  nice -n 10 python -m benchmarks.sinusoid_bench

Quick check without recording:
  python -m benchmarks.sinusoid_bench --steps 2000 --test-tasks 200 --no-record
"""

from __future__ import annotations

import argparse
import functools
import math
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

from benchmarks.record import append_record
from jaxssl.meta import maml_adapt, maml_loss, sample_sinusoid_tasks
from jaxssl.models import MLP

WIDTHS = (40, 40, 1)
META_BATCH = 25
INNER_LR = 0.01
META_LR = 1e-3
META_SGD_LR_RANGE = (0.005, 0.1)
TEST_QUERY = 100
CHUNK = 500  # meta-steps per jitted call

PAPER = {  # Meta-SGD paper, Table 1: (mean, 95% half-width)
    ("maml", 5): (0.686, 0.070),
    ("maml", 10): (0.435, 0.039),
    ("maml", 20): (0.228, 0.024),
    ("meta_sgd", 5): (0.482, 0.061),
    ("meta_sgd", 10): (0.258, 0.026),
    ("meta_sgd", 20): (0.127, 0.017),
}

_MODEL = MLP(WIDTHS, activation="relu")


def mse_loss(params, batch):
    """Mean squared error of the regressor on a batch ``{"x", "y"}`` [n, 1]."""
    pred = _MODEL.apply({"params": params}, batch["x"])
    return jnp.mean(jnp.square(pred - batch["y"]))


def _meta_objective(method, meta_params, tasks):
    if method == "maml":
        return maml_loss(mse_loss, meta_params["params"], tasks, INNER_LR, 1)
    return maml_loss(mse_loss, meta_params["params"], tasks, meta_params["inner_lr"], 1)


def init_meta_params(method: str, rng: jax.Array) -> dict:
    """Regressor parameters, plus Meta-SGD's per-parameter rates."""
    rng_init, rng_lr = jax.random.split(rng)
    params = _MODEL.init(rng_init, jnp.zeros((1, 1)))["params"]
    if method == "maml":
        return {"params": params}
    leaves, treedef = jax.tree.flatten(params)
    keys = jax.random.split(rng_lr, len(leaves))
    low, high = META_SGD_LR_RANGE
    rates = [
        jax.random.uniform(key, leaf.shape, minval=low, maxval=high)
        for key, leaf in zip(keys, leaves, strict=True)
    ]
    return {"params": params, "inner_lr": jax.tree.unflatten(treedef, rates)}


def make_train_chunk(
    method: str, shot: int, tx: optax.GradientTransformation, meta_batch: int
):
    """A jitted function running ``CHUNK`` meta-steps as one ``lax.scan``."""

    def step(carry, _):
        meta_params, opt_state, rng, step_index = carry
        rng_tasks = jax.random.fold_in(rng, step_index)
        tasks = sample_sinusoid_tasks(
            rng_tasks, num_tasks=meta_batch, shot=shot, query=shot
        )
        loss, grads = jax.value_and_grad(functools.partial(_meta_objective, method))(
            meta_params, tasks
        )
        updates, opt_state = tx.update(grads, opt_state, meta_params)
        meta_params = optax.apply_updates(meta_params, updates)
        return (meta_params, opt_state, rng, step_index + 1), loss

    @functools.partial(jax.jit, donate_argnums=(0, 1))
    def chunk(meta_params, opt_state, rng, step_index):
        carry, losses = jax.lax.scan(
            step, (meta_params, opt_state, rng, step_index), length=CHUNK
        )
        return carry[0], carry[1], losses.mean()

    return chunk


@functools.partial(jax.jit, static_argnames=("method",))
def test_mse(method: str, meta_params: dict, tasks: dict) -> jax.Array:
    """Per-task query MSE after one adaptation step: [T]."""
    lr = INNER_LR if method == "maml" else meta_params["inner_lr"]

    def one(support, query):
        adapted = maml_adapt(mse_loss, meta_params["params"], support, lr, 1)
        return mse_loss(adapted, query)

    return jax.vmap(one)(tasks["support"], tasks["query"])


def bench(
    method: str,
    shot: int,
    *,
    steps: int,
    test_tasks: int,
    seed: int,
    meta_batch: int = META_BATCH,
) -> dict:
    """Meta-train one method for one shot count and evaluate it."""
    rng_init, rng_train = jax.random.split(jax.random.key(seed))
    meta_params = init_meta_params(method, rng_init)
    tx = optax.adam(META_LR)
    opt_state = tx.init(meta_params)
    chunk = make_train_chunk(method, shot, tx, meta_batch)
    start = time.perf_counter()
    num_chunks = max(1, math.ceil(steps / CHUNK))
    for i in range(num_chunks):
        meta_params, opt_state, loss = chunk(
            meta_params, opt_state, rng_train, jnp.int32(i * CHUNK)
        )
    loss = float(loss)
    train_s = time.perf_counter() - start
    if not math.isfinite(loss):
        raise FloatingPointError(f"{method} {shot}-shot: meta-loss {loss}")
    # Same test tasks for both methods: the key depends on the shot count only.
    tasks = sample_sinusoid_tasks(
        jax.random.key(10_000 + shot), num_tasks=test_tasks, shot=shot, query=TEST_QUERY
    )
    errors = np.asarray(test_mse(method, meta_params, tasks), np.float64)
    mean = float(errors.mean())
    ci95 = float(1.96 * errors.std(ddof=1) / math.sqrt(errors.shape[0]))
    return dict(
        method=method,
        shot=shot,
        mse=mean,
        ci95=ci95,
        final_train_loss=loss,
        steps=num_chunks * CHUNK,
        train_s=train_s,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--methods", default="maml,meta_sgd")
    parser.add_argument("--shots", default="5,10,20")
    parser.add_argument("--steps", type=int, default=20_000, help="meta-steps")
    parser.add_argument("--test-tasks", type=int, default=2000)
    parser.add_argument("--meta-batch", type=int, default=META_BATCH, help="tasks")
    parser.add_argument(
        "--seeds",
        default="0",
        help="comma-separated training seeds; with several, the record is the "
        "mean over seeds (each seed's MSE is kept in the record)",
    )
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    for shot in (int(s) for s in args.shots.split(",")):
        for method in args.methods.split(","):
            if (method, shot) not in PAPER:
                raise ValueError(f"unknown method {method!r} or shot {shot}")
            runs = [
                bench(
                    method,
                    shot,
                    steps=args.steps,
                    test_tasks=args.test_tasks,
                    seed=s,
                    meta_batch=args.meta_batch,
                )
                for s in seeds
            ]
            per_seed = [r["mse"] for r in runs]
            mse = float(np.mean(per_seed))
            # Every seed is scored on the same test tasks; the interval is the
            # mean of the per-seed intervals (the tasks' spread, not the seeds').
            ci95 = float(np.mean([r["ci95"] for r in runs]))
            train_s = float(np.mean([r["train_s"] for r in runs]))
            paper_mean, paper_ci = PAPER[(method, shot)]
            inside = abs(mse - paper_mean) <= paper_ci
            print(
                f"{method:8s} {shot:2d}-shot: MSE {mse:.3f} +- {ci95:.3f} "
                f"(seeds {', '.join(f'{m:.3f}' for m in per_seed)}; paper "
                f"{paper_mean:.3f} +- {paper_ci:.3f}, "
                f"{'inside' if inside else 'outside'}), {runs[0]['steps']} steps "
                f"in {train_s:.0f} s per seed, final meta-loss "
                f"{runs[-1]['final_train_loss']:.3f}",
                flush=True,
            )
            if args.no_record:
                continue
            extra = {}
            if len(seeds) > 1:
                extra = dict(std=round(float(np.std(per_seed, ddof=1)), 4))
            append_record(
                "few_shot",
                method=method,
                dataset="sinusoid",
                setting=(
                    f"{shot}-shot regression, 1 inner step, MLP 1-40-40-1 ReLU, "
                    f"{args.test_tasks} test tasks x {TEST_QUERY} query points"
                    + (f", mean of {len(seeds)} seeds" if len(seeds) > 1 else "")
                ),
                metric="post_adaptation_mse",
                value=round(mse, 4),
                ci95=round(ci95, 4),
                per_seed=[round(m, 4) for m in per_seed],
                paper=dict(mean=paper_mean, ci95=paper_ci, inside=inside),
                steps=runs[0]["steps"],
                wall_s=round(train_s, 1),
                seeds=seeds,
                config=dict(
                    meta_batch=args.meta_batch,
                    inner_lr=INNER_LR if method == "maml" else META_SGD_LR_RANGE,
                    meta_lr=META_LR,
                    optimizer="adam",
                    second_order=True,
                    train_query=shot,
                ),
                command=" ".join(
                    ["python -m benchmarks.sinusoid_bench", *sys.argv[1:]]
                ),
                **extra,
            )


if __name__ == "__main__":
    main()
