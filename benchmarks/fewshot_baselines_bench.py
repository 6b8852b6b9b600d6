"""Fashion-MNIST class split: Baseline and Baseline++ (Chen et al. 2019), conv4.

The protocol of :mod:`benchmarks.fewshot_bench` (base classes 0-4, novel
classes 5-9; 5-way 1-shot and 5-shot, 15 queries per class, 600 test episodes
drawn with the keys ``jax.random.key(1000 + shot)``, so these methods are
scored on the very episodes the pixel, random-conv4, ProtoNet and MAML
figures use), with the two "pretrain, freeze, fit a new head" baselines of
"A Closer Look at Few-shot Classification":

- ``baseline_finetune`` (Baseline): conv4 + a linear 5-way head trained with
  plain cross-entropy minibatches on the base classes' training images; at
  test time the head is dropped and a new linear head is fitted on each
  episode's support features (:func:`jaxssl.meta.fit_head`, ``kind="linear"``:
  L2-regularised logistic regression, L-BFGS).
- ``baseline_cosine`` (Baseline++): the same with a cosine-similarity head
  (class weight vectors, logits = scale * cosine) whose scale is learned
  during pretraining; the new head on the support set is a cosine head with a
  fixed scale, started at the normalised class means.

Backbone: conv4 with 64 channels; ``--norm`` picks its normalisation, and
both were run and recorded (each record's setting names it):

- ``none`` (the default): no normalisation layer. A frozen feature extractor
  should map each image to its features on its own; without normalisation
  it does, so the whole novel set is embedded once and episodes are drawn
  from the embeddings (the same episodes: sampling depends only on the class
  sizes and the key; checked in ``check_same_episodes``). This is the
  inductive setting of Chen et al. (their batch norm uses running averages at
  test time, which Conv4 does not offer).
- ``transductive``: Conv4's batch norm with the statistics of the batch at
  hand (the ProtoNet, MAML and random-conv4 runs of fewshot_bench use it).
  An image's features then depend on the batch it is embedded with, so each
  episode's support and query images are embedded together, as those runs
  do: the query images take part in the normalisation (transductive), and
  the statistics of 128-image base-class training batches are swapped for
  those of each test episode, which re-centres the features on the novel
  classes. On this split it is worth 4-5 points of 1-shot and 7-8 points
  of 5-shot accuracy (see the records), at the price of transductive
  inference and one embedding pass per episode.

``--no-last-pool`` keeps the last block's 3x3x64 map (576 features,
``Conv4(pool_last=False)``), as fewshot_bench's flag of the same name.

Training: Adam, minibatches of ``--batch`` images drawn from a fresh
permutation each epoch, random horizontal flips and +-2 pixel shifts
(``fewshot_bench.augment``), the patches conv (its gradient is far faster
than ``lax.conv``'s on XLA:CPU; the forward-only embedding uses ``lax.conv``,
the same parameters). Model selection: every ``--val-every`` steps, the
5-way 5-shot accuracy (the method's own test-time head) on ``--val-episodes``
episodes of held-out base-class images (the base classes' test-set images);
the best checkpoint is kept. The test-time head's regularisation (weight decay
for the linear head, scale for the cosine head) is chosen on the same
validation images, per shot, from a small grid (``SWEEP``; ``--no-sweep``
keeps :func:`jaxssl.meta.fit_head`'s defaults), never on the novel classes.

Run (records to benchmarks/results/few_shot.jsonl; about 11 and 15 minutes
per method on a loaded 2-core CPU, of which 7 minutes of pretraining):
  nice -n 10 python -m benchmarks.fewshot_baselines_bench
  nice -n 10 python -m benchmarks.fewshot_baselines_bench --norm transductive \\
      --val-episodes 100
  nice -n 10 python -m benchmarks.fewshot_baselines_bench --norm transductive \\
      --val-episodes 100 --no-last-pool

Quick check without recording:
  python -m benchmarks.fewshot_baselines_bench --steps 40 --val-every 20 \\
      --episodes 100 --no-record

References:
  Chen, Liu, Kira, Wang & Huang, "A Closer Look at Few-shot Classification"
  (ICLR 2019), https://arxiv.org/abs/1904.04232
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

from benchmarks.fewshot_bench import (
    DATASET,
    SHOTS,
    TEST_QUERY,
    TEST_WAY,
    append_few_shot_record,
    augment,
    evaluate,
    float_episodes,
    joint_prototypical,
    make_scan_chunk,
    train_with_validation,
)
from jaxssl.data import load_dataset
from jaxssl.data.pipeline import to_float
from jaxssl.meta import (
    baseline_accuracy,
    baseline_score_fn,
    head_logits,
    make_episode_data,
    nearest_centroid_accuracy,
    sample_episodes,
    split_classes,
)
from jaxssl.models import Conv4

METHODS = {"baseline_finetune": "linear", "baseline_cosine": "cosine"}
FEATURES = 64
EMBED_BATCH = 1000
# Test-time head regularisation grids (chosen per shot on validation episodes).
SWEEP = {
    "linear": ("weight_decay", (1e-4, 1e-3, 1e-2, 1e-1, 1.0)),
    "cosine": ("scale", (2.0, 5.0, 10.0, 20.0)),
}

NORMS = ("none", "transductive")


# (training net, embedding net) per norm: the same parameters, two convs.
def build_nets(pool_last: bool = True):
    return {
        norm: tuple(
            Conv4(features=FEATURES, norm=norm, conv_impl=impl, pool_last=pool_last)
            for impl in ("patches", "lax")
        )
        for norm in NORMS
    }


NETS = build_nets()  # main() rebuilds it for --no-last-pool


def init_params(rng: jax.Array, kind: str, *, norm: str, way: int, init_scale: float):
    """conv4 body + a ``way``-class linear or cosine head."""
    rng_body, rng_head = jax.random.split(rng)
    body = NETS[norm][0].init(rng_body, jnp.zeros((2, 28, 28, 1)))["params"]
    dim = NETS[norm][0].apply({"params": body}, jnp.zeros((2, 28, 28, 1))).shape[1]
    weights = jax.nn.initializers.lecun_normal()(rng_head, (dim, way))
    if kind == "linear":
        head = {"w": weights, "b": jnp.zeros((way,))}
    else:
        head = {"w": weights, "log_scale": jnp.log(jnp.float32(init_scale))}
    return {"body": body, "head": head}


def train_logits(params, images, kind, norm):
    features = NETS[norm][0].apply({"params": params["body"]}, images)
    head = params["head"]
    if kind == "linear":
        return head_logits(head, features, kind="linear")
    return head_logits(
        {"w": head["w"]}, features, kind="cosine", scale=jnp.exp(head["log_scale"])
    )


def make_train_chunk(images, labels, tx, *, kind, norm, batch, chunk):
    """Jitted ``chunk`` cross-entropy steps on augmented minibatches."""
    num = images.shape[0]
    steps_per_epoch = num // batch

    def objective(params, batch_xy):
        x, y = batch_xy
        logits = train_logits(params, x, kind, norm)
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
        return loss, (jnp.mean(jnp.argmax(logits, -1) == y),)

    def batch_fn(rng, step_index):
        rng_order, rng_aug = jax.random.split(rng)
        epoch, position = jnp.divmod(step_index, steps_per_epoch)
        order = jax.random.permutation(jax.random.fold_in(rng_order, epoch), num)
        idx = jax.lax.dynamic_slice(order, (position * batch,), (batch,))
        rng_aug = jax.random.fold_in(rng_aug, step_index)
        return augment(rng_aug, to_float(images[idx])), labels[idx]

    return make_scan_chunk(tx, batch_fn, objective, length=chunk)


@jax.jit
def _embed_batch(body, images):
    return NETS["none"][1].apply({"params": body}, to_float(images))


def embed(body, images: np.ndarray) -> np.ndarray:
    """Frozen conv4 features [N, D] of uint8 images, in batches."""
    out = []
    for start in range(0, images.shape[0], EMBED_BATCH):
        part = images[start : start + EMBED_BATCH]
        pad = EMBED_BATCH - part.shape[0]  # one compiled shape
        part = np.concatenate([part, np.zeros((pad, *part.shape[1:]), part.dtype)])
        out.append(np.asarray(_embed_batch(body, part))[: EMBED_BATCH - pad])
    return np.concatenate(out)


def feature_data(body, images, labels, classes):
    return make_episode_data(embed(body, images), labels, classes)


def sweep_head(data, *, kind, shot, episodes):
    """Validation accuracy of the test-time head for each value of its grid.

    The value is a traced argument: one compilation serves the whole grid.
    """
    field, grid = SWEEP[kind]
    tasks = sample_episodes(
        jax.random.key(2000 + shot),
        data,
        num_tasks=episodes,
        way=TEST_WAY,
        shot=shot,
        query=TEST_QUERY,
    )

    @jax.jit
    def accuracy(tasks, value):
        def one(task):
            support, query = task["support"], task["query"]
            return baseline_accuracy(
                support["x"],
                support["y"],
                query["x"],
                query["y"],
                TEST_WAY,
                kind=kind,
                **{field: value},
            )

        return jax.vmap(one)(tasks).mean()

    return field, {value: float(accuracy(tasks, jnp.float32(value))) for value in grid}


@functools.cache
def transductive_score_fn(norm, kind, field):
    """``score(episode, body, value)``: each episode's images embedded together.

    For the batch-dependent ``norm="transductive"``: support and query images
    go through the frozen body in one call (as the ProtoNet runs do), then a
    head is fitted (``kind="linear"|"cosine"``) or the nearest class mean is
    used (``kind="centroid"``). For :func:`evaluate` with ``score_args=(body,
    value)``: ``body`` and ``value`` (the head's ``field``, or None) are
    traced, and the cache gives one function object (one compilation) per
    setting.
    """

    def score(episode, body, value):
        def embed_fn(images):
            return NETS[norm][1].apply({"params": body}, images)

        if kind == "centroid":
            return joint_prototypical(embed_fn, float_episodes(episode), TEST_WAY)[1]
        fit = {} if field is None else {field: value}
        return baseline_score_fn(TEST_WAY, kind=kind, embed_fn=embed_fn, **fit)(episode)

    return score


def check_same_episodes(body, image_data, feature_data_, shot):
    """Episodes from the embeddings are the image episodes, embedded."""
    key = jax.random.key(1000 + shot)
    kwargs = dict(num_tasks=2, way=TEST_WAY, shot=shot, query=TEST_QUERY)
    from_images = sample_episodes(key, image_data, **kwargs)
    from_features = sample_episodes(key, feature_data_, **kwargs)
    np.testing.assert_array_equal(from_images["classes"], from_features["classes"])
    for part in ("support", "query"):
        images = np.asarray(from_images[part]["x"]).reshape(-1, 28, 28, 1)
        np.testing.assert_allclose(
            embed(body, images),
            np.asarray(from_features[part]["x"]).reshape(images.shape[0], -1),
            rtol=1e-4,
            atol=1e-4,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--init-scale", type=float, default=10.0)
    parser.add_argument("--norm", default="none", choices=NORMS)
    parser.add_argument(
        "--no-last-pool",
        action="store_true",
        help="Conv4(pool_last=False): 3x3x64 = 576 features on 28x28 images",
    )
    parser.add_argument("--val-every", type=int, default=100)
    parser.add_argument("--val-episodes", type=int, default=300)
    parser.add_argument(
        "--budget-s", type=float, default=420.0, help="training s per method"
    )
    parser.add_argument("--no-sweep", action="store_true")
    parser.add_argument(
        "--centroid",
        action="store_true",
        help="with --norm transductive, also score the nearest class mean "
        "(always on for norm none, where it is cheap)",
    )
    parser.add_argument("--episodes", type=int, default=600)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()
    methods = args.methods.split(",")
    unknown = sorted(set(methods) - set(METHODS))
    if unknown:
        raise ValueError(f"--methods {unknown}; allowed: {', '.join(METHODS)}")
    command = " ".join(["python -m benchmarks.fewshot_baselines_bench", *sys.argv[1:]])

    NETS.update(build_nets(pool_last=not args.no_last_pool))
    dataset = load_dataset(DATASET)
    split = split_classes(10, num_base=5)
    base = np.isin(dataset.train_labels, split.base)
    # Base-class training images with labels 0..4 for the 5-class head.
    train_images = jnp.asarray(dataset.train_images[base])
    relabel = np.zeros(10, np.int32)
    relabel[list(split.base)] = np.arange(len(split.base))
    train_labels = jnp.asarray(relabel[dataset.train_labels[base]])
    epoch_per_step = args.batch / train_images.shape[0]
    novel_images = np.concatenate([dataset.train_images, dataset.test_images])
    novel_labels = np.concatenate([dataset.train_labels, dataset.test_labels])
    novel_image_data = make_episode_data(novel_images, novel_labels, split.novel)
    print(
        f"{train_images.shape[0]} base training images, "
        f"{int(np.isin(dataset.test_labels, split.base).sum())} base validation "
        f"images, {int(novel_image_data.counts.sum())} novel images",
        flush=True,
    )

    transductive = args.norm == "transductive"
    base_val_images = make_episode_data(
        dataset.test_images, dataset.test_labels, split.base
    )

    for method in methods:
        kind = METHODS[method]
        rng_init, rng_train = jax.random.split(jax.random.key(args.seed))
        params = init_params(
            rng_init,
            kind,
            norm=args.norm,
            way=len(split.base),
            init_scale=args.init_scale,
        )
        tx = optax.adam(args.lr)
        chunk = math.gcd(args.val_every, args.steps)
        run = make_train_chunk(
            train_images,
            train_labels,
            tx,
            kind=kind,
            norm=args.norm,
            batch=args.batch,
            chunk=chunk,
        )
        val_score = baseline_score_fn(TEST_WAY, kind=kind)

        def episodic(body, data, shot, num, value=None, field=None, kind=kind):
            # The transductive path: episodes embedded one by one.
            value = jnp.float32(0.0 if value is None else value)
            score_fn = transductive_score_fn(args.norm, kind, field)
            return evaluate(score_fn, data, shot, num, score_args=(body, value))

        def validate(body, score_fn=val_score, shot=5):
            if transductive:
                return episodic(body, base_val_images, shot, args.val_episodes)
            data = feature_data(
                body, dataset.test_images, dataset.test_labels, split.base
            )
            return evaluate(score_fn, data, shot, args.val_episodes)

        def progress(name, done, loss, extra, val_acc, val_ci, elapsed):
            print(
                f"  {name} step {done} (epoch {done * epoch_per_step:.2f}): "
                f"loss {loss:.4f} train acc {float(extra[0]):.3f} "
                f"val 5-shot {val_acc:.4f} +- {val_ci:.4f} ({elapsed:.0f} s)",
                flush=True,
            )

        start = time.perf_counter()
        params, info = train_with_validation(
            method,
            run,
            params,
            tx,
            steps=args.steps,
            val_fn=lambda params: validate(params["body"]),
            rng=rng_train,
            time_budget_s=args.budget_s,
            chunk_steps=chunk,
            val_every=args.val_every,
            progress_fn=progress,
        )
        train_s = time.perf_counter() - start
        best_val, best_step, done = (
            info["best_val_acc"],
            info["best_step"],
            info["steps"],
        )
        history = info["history"]
        body = params["body"]
        learned_scale = (
            float(jnp.exp(params["head"]["log_scale"])) if kind == "cosine" else None
        )

        # Test-time head regularisation, per shot, on the validation images.
        sweep_start = time.perf_counter()
        if not transductive:
            val_data = feature_data(
                body, dataset.test_images, dataset.test_labels, split.base
            )
        chosen, sweep = {}, {}
        for shot in SHOTS:
            if args.no_sweep:
                chosen[shot] = {}
                continue
            if transductive:
                field, grid = SWEEP[kind]
                scores = {
                    v: episodic(
                        body, base_val_images, shot, args.val_episodes, v, field
                    )[0]
                    for v in grid
                }
            else:
                field, scores = sweep_head(
                    val_data, kind=kind, shot=shot, episodes=args.val_episodes
                )
            chosen[shot] = {field: max(scores, key=scores.get)}
            sweep[f"{shot}-shot"] = {str(k): round(v, 4) for k, v in scores.items()}
            print(f"  {method} {shot}-shot val {field}: {sweep[f'{shot}-shot']}")
        sweep_s = time.perf_counter() - sweep_start

        embed_start = time.perf_counter()
        if not transductive:
            novel = feature_data(body, novel_images, novel_labels, split.novel)
            for shot in SHOTS:
                check_same_episodes(body, novel_image_data, novel, shot)
        embed_s = time.perf_counter() - embed_start

        for shot in SHOTS:
            eval_start = time.perf_counter()
            if transductive:
                (field, value), *_ = chosen[shot].items() or [(None, None)]
                mean, ci95 = episodic(
                    body, novel_image_data, shot, args.episodes, value, field
                )
                eval_s = time.perf_counter() - eval_start
                centroid, centroid_ci = (
                    episodic(
                        body, novel_image_data, shot, args.episodes, kind="centroid"
                    )
                    if args.centroid
                    else (math.nan, math.nan)
                )
            else:
                score_fn = baseline_score_fn(TEST_WAY, kind=kind, **chosen[shot])
                mean, ci95 = evaluate(score_fn, novel, shot, args.episodes)
                eval_s = time.perf_counter() - eval_start
                centroid, centroid_ci = evaluate(
                    functools.partial(nearest_centroid_accuracy, way=TEST_WAY),
                    novel,
                    shot,
                    args.episodes,
                )
            wall_s = train_s + sweep_s + embed_s + eval_s
            print(
                f"{method:17s} {shot}-shot: {mean:.4f} +- {ci95:.4f} ({wall_s:.0f} s); "
                f"nearest centroid on the same features {centroid:.4f}",
                flush=True,
            )
            if args.no_record:
                continue
            head = "linear" if kind == "linear" else "cosine"
            norm_text = (
                "transductive BN, each episode embedded together"
                if transductive
                else "no norm layer"
            ) + (", no last pool" if args.no_last_pool else "")
            config = dict(
                model=(
                    f"conv4 64ch, norm={args.norm}"
                    f"{', no last pool' if args.no_last_pool else ''}, patches conv "
                    "(train) / lax (embed)"
                ),
                test_embedding=(
                    "each episode's support and query images embedded together"
                    if transductive
                    else "every image embedded on its own (precomputed)"
                ),
                pretrain_head=(
                    "Dense(5)"
                    if kind == "linear"
                    else f"cosine(5), learned scale (init {args.init_scale})"
                ),
                learned_scale=learned_scale,
                optimizer="adam",
                lr=args.lr,
                batch=args.batch,
                augment="hflip + 2px shift",
                train_images="base classes 0-4, training set (30000)",
                model_selection=(
                    f"best of every {args.val_every} steps on {args.val_episodes} "
                    f"5-way 5-shot episodes of held-out base-class (test-set) "
                    f"images, with the test-time head"
                ),
                test_head=dict(
                    kind=head,
                    optimizer="lbfgs",
                    num_steps=100,
                    **chosen[shot],
                    chosen_from=sweep.get(f"{shot}-shot", "defaults"),
                ),
                best_step=best_step,
                best_val_acc=best_val,
                train_s=round(train_s, 1),
                # [mean, ci95]; None where not measured (strict JSON: no NaN).
                nearest_centroid_same_features=(
                    None
                    if math.isnan(centroid)
                    else [round(centroid, 4), round(centroid_ci, 4)]
                ),
            )
            append_few_shot_record(
                method,
                shot,
                mean,
                ci95,
                wall_s,
                f"conv4 ({norm_text}) pretrained {done} steps "
                f"({done * epoch_per_step:.1f} epochs of base-class images, "
                f"{train_s:.0f} s CPU) with a {head} head, kept step "
                f"{best_step}; new {head} head fitted on each episode's "
                "frozen support features",
                episodes=args.episodes,
                seed=args.seed,
                command=command,
                steps=done,
                epochs=round(done * epoch_per_step, 2),
                config=config,
                history=history,
            )


if __name__ == "__main__":
    main()
