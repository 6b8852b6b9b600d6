"""Fashion-MNIST class split: ProtoNets and MAML (conv4) vs two baselines.

Base classes 0-4 are for training, novel classes 5-9 for testing (5-way,
1-shot and 5-shot, 15 queries per class, 600 episodes, 95% intervals via
:func:`jaxssl.evaluation.evaluate_episodes`). Model selection uses episodes drawn
from a held-out validation split of the base-class images: training episodes
come from the base classes' training-set images, validation episodes from
their test-set images, and the checkpoint with the best validation accuracy
is evaluated on the novel classes (all their images, as the raw-pixel
baseline uses them).

Methods (every figure is recorded in ``benchmarks/results/few_shot.jsonl``):

- ``pixels``: nearest class mean on raw pixels in [0, 1].
- ``random_conv4``: nearest class mean on the embedding of a randomly
  initialised conv4 (ProtoNets' evaluation rule, no training).
- ``protonet``: conv4 (64 channels) trained with ``prototypical_loss`` and
  Adam on episodes of ``--proto-way`` classes (ProtoNets train with more
  ways than they test; with 5 base classes, 5 is the most here), random
  horizontal flips and +-2 pixel shifts; one model serves 1-shot and 5-shot
  testing.
- ``maml``: conv4 (32 channels by default, ``--maml-features``: the 2-core CPU
  budget) + linear 5-way head, first-order MAML (FOMAML: the inner
  gradients are stopped) or, with ``--maml-second-order``, full MAML, with
  ``maml_loss``; inner SGD steps on the support set, Adam on the
  meta-gradient. Trained with the test shot (one model per shot).

``--no-last-pool`` drops conv4's last max-pool (``Conv4(pool_last=False)``:
a 3x3xC embedding instead of 1x1xC), for ProtoNets, the random conv4 and
MAML; ``--rotate-classes`` meta-trains on the base classes at four rotations
(20 classes). The recorded ProtoNet and MAML results:

  python -m benchmarks.fewshot_bench --methods random_conv4,protonet \
      --no-last-pool --proto-steps 150 --budget-s 1000
  python -m benchmarks.fewshot_bench --methods maml --maml-shots 5,1 \
      --maml-second-order --maml-steps 400 --maml-test-steps 5 --budget-s 900

Both conv4s use transductive batch norm (``Conv4(norm="transductive")``:
statistics of the batch at hand, no running averages; the MAML paper's
setting), so an episode's images are embedded in one call (support and query
together for ProtoNets; the support set and then the query set for MAML, as in
the MAML paper's code).

Run (records to benchmarks/results/few_shot.jsonl):
  nice -n 10 python -m benchmarks.fewshot_bench

Quick check without recording:
  python -m benchmarks.fewshot_bench --proto-steps 100 --maml-steps 20 \
      --episodes 100 --no-record
"""

from __future__ import annotations

import argparse
import functools
import math
import sys
import time

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from benchmarks.record import append_record
from jaxssl.data import load_dataset
from jaxssl.data.pipeline import to_float
from jaxssl.episodic import TEST_KEY_OFFSET
from jaxssl.losses import prototypical_loss
from jaxssl.meta import (
    evaluate_episodes,
    make_episode_data,
    maml_adapt,
    maml_loss,
    nearest_centroid_accuracy,
    sample_episodes,
    split_classes,
)
from jaxssl.models import Conv4

DATASET = "idx:/usr/share/datasets/fashion-mnist"
TEST_WAY = 5
TEST_QUERY = 15
SHOTS = (1, 5)
VAL_EPISODES = 50
CHUNK = 50  # training steps per jitted call (one lax.scan)

# lax.conv for ProtoNets (shared weights: about 2x the patches conv here);
# MAML vmaps per-task weights, where only the patches conv is fast.
_CONV4 = Conv4(features=64, norm="transductive", conv_impl="lax")


def augment(rng: jax.Array, images: jax.Array) -> jax.Array:
    """Random horizontal flip and +-2 pixel shift of each image [n, H, W, C]."""
    n, height, width, _ = images.shape
    rng_flip, rng_shift = jax.random.split(rng)
    flip = jax.random.bernoulli(rng_flip, 0.5, (n,))
    images = jnp.where(flip[:, None, None, None], images[:, :, ::-1], images)
    shifts = jax.random.randint(rng_shift, (n, 2), 0, 5)
    padded = jnp.pad(images, ((0, 0), (2, 2), (2, 2), (0, 0)))

    def crop(image, shift):
        return jax.lax.dynamic_slice(
            image, (shift[0], shift[1], 0), (height, width, image.shape[-1])
        )

    return jax.vmap(crop)(padded, shifts)


def _augment_episode(rng, episode):
    rng_support, rng_query = jax.random.split(rng)
    return {
        "support": {
            "x": augment(rng_support, episode["support"]["x"]),
            "y": episode["support"]["y"],
        },
        "query": {
            "x": augment(rng_query, episode["query"]["x"]),
            "y": episode["query"]["y"],
        },
    }


def float_episodes(episodes):
    return {
        key: {"x": to_float(episodes[key]["x"]), "y": episodes[key]["y"]}
        for key in ("support", "query")
    }


def rotated_classes(images, labels, classes):
    """Each (class c, rotation by k * 90 degrees) as a new class ``4 * c + k``.

    The Omniglot trick (Santoro et al. 2016; Vinyals et al. 2016) that turns
    the 5 base classes into 20 for meta-training; validation and test
    episodes keep the real, unrotated classes.
    """
    keep = np.isin(labels, classes)
    images, labels = images[keep], labels[keep]
    rotated = [np.rot90(images, k, axes=(1, 2)) for k in range(4)]
    new_labels = [4 * labels + k for k in range(4)]
    return np.concatenate(rotated), np.concatenate(new_labels)


# ----------------------------------------------------------------- ProtoNets


def joint_prototypical(embed_fn, episode, way):
    """``(loss, accuracy)`` of one float episode; support and query embedded together.

    ``embed_fn`` sees the episode's support and query images in one call, so
    a batch-dependent embedding (transductive batch norm) normalises them
    together.
    """
    support, query = episode["support"], episode["query"]
    num_support = support["x"].shape[0]
    embeddings = embed_fn(jnp.concatenate([support["x"], query["x"]]))
    return prototypical_loss(
        embeddings[:num_support],
        support["y"],
        embeddings[num_support:],
        query["y"],
        way,
    )


def protonet_episode(params, episode, way):
    """``(loss, accuracy)`` of one episode; support and query embedded together."""
    return joint_prototypical(
        lambda images: _CONV4.apply({"params": params}, images), episode, way
    )


def protonet_score(episode, params):
    """Query accuracy of one uint8 ``TEST_WAY`` episode.

    For :func:`evaluate_episodes` with ``score_args=(params,)``: one
    compilation serves every checkpoint.
    """
    episode = float_episodes(episode)
    return protonet_episode(params, episode, TEST_WAY)[1]


def make_scan_chunk(tx, batch_fn, objective, *, length=CHUNK):
    """Jitted ``length`` optimizer steps as one ``lax.scan``.

    Args:
      tx: the Optax optimizer.
      batch_fn: ``batch_fn(rng, step_index) -> batch``, sampled on the device.
      objective: ``objective(params, batch) -> (loss, aux)``, ``aux`` a tuple
        of scalars (e.g. ``(accuracy,)``, or ``()``).
      length: steps per call.

    Returns:
      ``chunk(params, opt_state, rng, step_index) -> (params, opt_state,
      mean loss, *mean aux)``; ``opt_state`` is donated.
    """

    def step(carry, _):
        params, opt_state, rng, step_index = carry
        batch = batch_fn(rng, step_index)
        (loss, aux), grads = jax.value_and_grad(objective, has_aux=True)(params, batch)
        updates, opt_state = tx.update(grads, opt_state, params)
        params = optax.apply_updates(params, updates)
        return (params, opt_state, rng, step_index + 1), (loss, aux)

    @functools.partial(jax.jit, donate_argnums=(1,))
    def chunk(params, opt_state, rng, step_index):
        carry, (losses, aux) = jax.lax.scan(
            step, (params, opt_state, rng, step_index), length=length
        )
        return (carry[0], carry[1], losses.mean(), *(a.mean() for a in aux))

    return chunk


def augmented_episodes_fn(data, *, way, shot, query, num_tasks):
    """``batch_fn(rng, step_index)``: float episodes, flipped and shifted."""

    def batch_fn(rng, step_index):
        rng_step = jax.random.fold_in(rng, step_index)
        rng_tasks, rng_aug = jax.random.split(rng_step)
        episodes = sample_episodes(
            rng_tasks, data, num_tasks=num_tasks, way=way, shot=shot, query=query
        )
        episodes = float_episodes(episodes)
        return jax.vmap(_augment_episode)(
            jax.random.split(rng_aug, num_tasks), episodes
        )

    return batch_fn


def make_protonet_chunk(data, tx, *, way, shot, query, num_tasks):
    """Jitted ``CHUNK`` ProtoNet steps on augmented batches of episodes."""

    def objective(params, episodes):
        losses, accuracies = jax.vmap(lambda e: protonet_episode(params, e, way))(
            episodes
        )
        return losses.mean(), (accuracies.mean(),)

    batch_fn = augmented_episodes_fn(
        data, way=way, shot=shot, query=query, num_tasks=num_tasks
    )
    return make_scan_chunk(tx, batch_fn, objective)


# ---------------------------------------------------------------------- MAML


class _MamlNet:
    """conv4 embedding + linear head as two Flax modules on one params dict."""

    def __init__(self, way: int, features: int, pool_last: bool = True):
        self.body = Conv4(
            features=features,
            norm="transductive",
            conv_impl="patches",
            pool_last=pool_last,
        )
        self.head = nn.Dense(way)
        self.way = way

    def init(self, rng, images):
        rng_body, rng_head = jax.random.split(rng)
        body = self.body.init(rng_body, images)["params"]
        features = self.body.apply({"params": body}, images)
        head = self.head.init(rng_head, features)["params"]
        return {"body": body, "head": head}

    def logits(self, params, images):
        features = self.body.apply({"params": params["body"]}, images)
        return self.head.apply({"params": params["head"]}, features)


def _maml_loss_fn(net):
    def loss_fn(params, batch):
        logits = net.logits(params, batch["x"])
        return optax.softmax_cross_entropy_with_integer_labels(
            logits, batch["y"]
        ).mean()

    return loss_fn


def maml_score_fn(net, *, inner_lr, num_steps):
    """``score(episode, params)``: query accuracy after adapting to the support.

    Build it once per setting and pass the parameters through
    ``evaluate_episodes(..., score_args=(params,))``.
    """
    loss_fn = _maml_loss_fn(net)

    def score(episode, params):
        episode = float_episodes(episode)
        adapted = maml_adapt(
            loss_fn, params, episode["support"], inner_lr, num_steps, True
        )
        logits = net.logits(adapted, episode["query"]["x"])
        return jnp.mean(jnp.argmax(logits, -1) == episode["query"]["y"])

    return score


def make_maml_chunk(
    net, data, tx, *, shot, query, num_tasks, inner_lr, num_steps, first_order=True
):
    """Jitted ``CHUNK`` MAML meta-steps (first-order unless told otherwise)."""
    loss_fn = _maml_loss_fn(net)

    def objective(params, tasks):
        return maml_loss(loss_fn, params, tasks, inner_lr, num_steps, first_order), ()

    batch_fn = augmented_episodes_fn(
        data, way=net.way, shot=shot, query=query, num_tasks=num_tasks
    )
    return make_scan_chunk(tx, batch_fn, objective)


# ------------------------------------------------------------------ training


def _print_progress(name, done, loss, extra, val_acc, val_ci, elapsed):
    del extra
    print(
        f"  {name} step {done}: loss {loss:.4f} val acc {val_acc:.4f} +- "
        f"{val_ci:.4f} ({elapsed:.0f} s)",
        flush=True,
    )


def train_with_validation(
    name,
    chunk,
    params,
    tx,
    *,
    steps,
    val_fn,
    rng,
    time_budget_s,
    chunk_steps=CHUNK,
    val_every=None,
    progress_fn=_print_progress,
):
    """Run ``chunk`` until ``steps`` or the time budget; keep the best on val.

    Args:
      name: the run's name in messages.
      chunk: ``chunk(params, opt_state, rng, step_index) -> (params,
        opt_state, loss, *extra)``, ``chunk_steps`` steps per call.
      params: initial parameters; ``tx`` the optimizer.
      steps: steps to run (whole chunks: the last may overshoot).
      val_fn: ``val_fn(params) -> (accuracy, ci95)``.
      rng: the training key passed to every chunk.
      time_budget_s: stop after the first validation past this many seconds.
      chunk_steps: steps per ``chunk`` call.
      val_every: validate when the step count is a multiple of it, and at
        the end; None: after every chunk.
      progress_fn: ``progress_fn(name, step, loss, extra, val_acc, val_ci,
        elapsed_s)``, called after each validation.

    Returns:
      ``(best_params, info)`` with the step and validation accuracy of the
      kept parameters, the steps run, the training wall time and the
      ``(step, loss, val_acc)`` history.

    Raises:
      FloatingPointError: the training loss became non-finite.
    """
    val_every = val_every or chunk_steps
    opt_state = tx.init(params)
    best = (-1.0, 0, params)
    history = []
    start = time.perf_counter()
    done = 0
    while done < steps:
        params, opt_state, loss, *extra = chunk(params, opt_state, rng, jnp.int32(done))
        done += chunk_steps
        loss = float(loss)
        if not math.isfinite(loss):
            raise FloatingPointError(f"{name}: training loss {loss} at step {done}")
        if done % val_every and done < steps:
            continue
        val_acc, val_ci = val_fn(params)
        history.append((done, round(loss, 4), round(val_acc, 4)))
        elapsed = time.perf_counter() - start
        progress_fn(name, done, loss, extra, val_acc, val_ci, elapsed)
        if val_acc > best[0]:
            best = (val_acc, done, jax.tree.map(jnp.copy, params))
        if elapsed > time_budget_s:
            break
    wall = time.perf_counter() - start
    info = dict(
        best_step=best[1],
        best_val_acc=round(best[0], 4),
        steps=done,
        train_s=round(wall, 1),
        history=history,
    )
    return best[2], info


def evaluate(score_fn, data, shot, episodes, *, score_args=()):
    """``(mean, ci95)`` over ``episodes`` ``TEST_WAY``-way ``shot``-shot episodes.

    The keys ``jax.random.key(1000 + shot)`` (the episodic runner's test
    keys) for every method: all are scored on the same episodes.
    """
    mean, ci95, _ = evaluate_episodes(
        jax.random.key(TEST_KEY_OFFSET + shot),
        data,
        score_fn,
        score_args=score_args,
        way=TEST_WAY,
        shot=shot,
        query=TEST_QUERY,
        num_episodes=episodes,
        chunk=50 if episodes % 50 == 0 else episodes,
    )
    return mean, ci95


def append_few_shot_record(
    method, shot, mean, ci95, wall_s, setting, *, episodes, seed, command, **extra
):
    """Append one test result of this class split to ``few_shot.jsonl``.

    ``setting`` follows the protocol's own description (way, shot, queries,
    classes, test episodes); ``extra`` fields (steps, config, history, ...)
    come after the common ones.
    """
    append_record(
        "few_shot",
        method=method,
        dataset="fashion_mnist_class_split",
        setting=(
            f"{TEST_WAY}-way {shot}-shot {TEST_QUERY}-query, base classes 0-4, "
            f"novel classes 5-9, {episodes} test episodes; {setting}"
        ),
        metric="accuracy",
        value=round(mean, 4),
        ci95=round(ci95, 4),
        wall_s=round(wall_s, 1),
        seeds=[seed],
        command=command,
        **extra,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--methods", default="pixels,random_conv4,protonet,maml")
    parser.add_argument("--proto-steps", type=int, default=1000)
    parser.add_argument("--proto-way", type=int, default=5)
    parser.add_argument("--proto-shot", type=int, default=5)
    parser.add_argument("--proto-query", type=int, default=10)
    parser.add_argument("--proto-tasks", type=int, default=1)
    parser.add_argument("--proto-lr", type=float, default=1e-3)
    parser.add_argument("--maml-steps", type=int, default=600)
    parser.add_argument("--maml-features", type=int, default=32)
    parser.add_argument("--maml-tasks", type=int, default=4)
    parser.add_argument("--maml-query", type=int, default=5)
    parser.add_argument("--maml-inner-lr", type=float, default=0.2)
    parser.add_argument("--maml-inner-steps", type=int, default=2)
    parser.add_argument("--maml-test-steps", type=int, default=3)
    parser.add_argument("--maml-lr", type=float, default=1e-3)
    parser.add_argument("--maml-shots", default="1,5")
    parser.add_argument(
        "--maml-second-order",
        action="store_true",
        help="full MAML (differentiate through the inner gradients)",
    )
    parser.add_argument(
        "--no-last-pool",
        action="store_true",
        help="conv4 without the last max-pool (3x3 x channels embedding)",
    )
    parser.add_argument(
        "--rotate-classes",
        action="store_true",
        help="meta-train on the base classes x 4 rotations (20 classes)",
    )
    parser.add_argument(
        "--budget-s", type=float, default=300.0, help="training s per run"
    )
    parser.add_argument("--episodes", type=int, default=600)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()
    methods = args.methods.split(",")
    global _CONV4
    _CONV4 = Conv4(
        features=64,
        norm="transductive",
        conv_impl="lax",
        pool_last=not args.no_last_pool,
    )
    conv4_desc = (
        f"conv4 (64 ch, transductive BN{', no last pool' if args.no_last_pool else ''})"
    )
    command = " ".join(["python -m benchmarks.fewshot_bench", *sys.argv[1:]])

    dataset = load_dataset(DATASET)
    split = split_classes(10, num_base=5)
    if args.rotate_classes:
        base_train = make_episode_data(
            *rotated_classes(dataset.train_images, dataset.train_labels, split.base),
            [4 * c + k for c in split.base for k in range(4)],
        )
    else:
        base_train = make_episode_data(
            dataset.train_images, dataset.train_labels, split.base
        )
    base_val = make_episode_data(dataset.test_images, dataset.test_labels, split.base)
    novel = make_episode_data(
        np.concatenate([dataset.train_images, dataset.test_images]),
        np.concatenate([dataset.train_labels, dataset.test_labels]),
        split.novel,
    )
    example = jnp.zeros((2, 28, 28, 1))

    def evaluate_novel(score_fn, shot, params=None):
        score_args = () if params is None else (params,)
        return evaluate(score_fn, novel, shot, args.episodes, score_args=score_args)

    def record(method, shot, mean, ci95, wall_s, setting, **extra):
        print(
            f"{method:13s} {shot}-shot: {mean:.4f} +- {ci95:.4f} ({wall_s:.0f} s)",
            flush=True,
        )
        if args.no_record:
            return
        append_few_shot_record(
            method,
            shot,
            mean,
            ci95,
            wall_s,
            setting,
            episodes=args.episodes,
            seed=args.seed,
            command=command,
            **extra,
        )

    if "pixels" in methods:
        for shot in SHOTS:
            start = time.perf_counter()
            score = functools.partial(nearest_centroid_accuracy, way=TEST_WAY)
            mean, ci95 = evaluate_novel(score, shot)
            record(
                "nearest_centroid_pixels",
                shot,
                mean,
                ci95,
                time.perf_counter() - start,
                "raw pixels in [0, 1], no training",
            )

    rng = jax.random.key(args.seed)
    rng_init, rng_train = jax.random.split(rng)

    if "random_conv4" in methods:
        params = _CONV4.init(rng_init, example)["params"]
        for shot in SHOTS:
            start = time.perf_counter()
            mean, ci95 = evaluate_novel(protonet_score, shot, params=params)
            record(
                "random_conv4",
                shot,
                mean,
                ci95,
                time.perf_counter() - start,
                f"randomly initialised {conv4_desc}, nearest class "
                "mean of embeddings, no training",
            )

    if "protonet" in methods:
        params = _CONV4.init(rng_init, example)["params"]
        tx = optax.adam(args.proto_lr)
        chunk = make_protonet_chunk(
            base_train,
            tx,
            way=args.proto_way,
            shot=args.proto_shot,
            query=args.proto_query,
            num_tasks=args.proto_tasks,
        )

        def proto_val(p):
            return evaluate(protonet_score, base_val, 5, VAL_EPISODES, score_args=(p,))

        params, info = train_with_validation(
            "protonet",
            chunk,
            params,
            tx,
            steps=args.proto_steps,
            val_fn=proto_val,
            rng=rng_train,
            time_budget_s=args.budget_s,
        )
        config = dict(
            model=f"{conv4_desc}, lax conv",
            train_way=args.proto_way,
            train_shot=args.proto_shot,
            train_query=args.proto_query,
            episodes_per_step=args.proto_tasks,
            optimizer="adam",
            lr=args.proto_lr,
            augment="hflip + 2px shift",
            rotated_base_classes=args.rotate_classes,
            model_selection=(
                f"best of every {CHUNK} steps on {VAL_EPISODES} 5-way 5-shot episodes "
                "of held-out base-class (test-set) images"
            ),
            **{k: v for k, v in info.items() if k != "history"},
        )
        for shot in SHOTS:
            start = time.perf_counter()
            mean, ci95 = evaluate_novel(protonet_score, shot, params=params)
            record(
                "protonet",
                shot,
                mean,
                ci95,
                info["train_s"] + time.perf_counter() - start,
                f"{conv4_desc} trained {info['steps']} steps ({args.proto_way}-way "
                f"{args.proto_shot}-shot episodes"
                f"{' of rotated base classes' if args.rotate_classes else ''}"
                f", {info['train_s']:.0f} s CPU), "
                f"kept step {info['best_step']}",
                steps=info["steps"],
                config=config,
                history=info["history"],
            )

    if "maml" in methods:
        net = _MamlNet(TEST_WAY, args.maml_features, not args.no_last_pool)
        for shot in (int(s) for s in args.maml_shots.split(",")):
            params = net.init(rng_init, example)
            tx = optax.adam(args.maml_lr)
            chunk = make_maml_chunk(
                net,
                base_train,
                tx,
                shot=shot,
                query=args.maml_query,
                num_tasks=args.maml_tasks,
                inner_lr=args.maml_inner_lr,
                num_steps=args.maml_inner_steps,
                first_order=not args.maml_second_order,
            )

            maml_score = maml_score_fn(
                net, inner_lr=args.maml_inner_lr, num_steps=args.maml_test_steps
            )

            def maml_val(p, shot=shot, score=maml_score):
                return evaluate(score, base_val, shot, VAL_EPISODES, score_args=(p,))

            params, info = train_with_validation(
                f"maml {shot}-shot",
                chunk,
                params,
                tx,
                steps=args.maml_steps,
                val_fn=maml_val,
                rng=rng_train,
                time_budget_s=args.budget_s,
            )
            start = time.perf_counter()
            mean, ci95 = evaluate_novel(maml_score, shot, params=params)
            record(
                "maml" if args.maml_second_order else "maml_first_order",
                shot,
                mean,
                ci95,
                info["train_s"] + time.perf_counter() - start,
                f"conv4 ({args.maml_features} ch"
                f"{', no last pool' if args.no_last_pool else ''}) + linear head, "
                f"{'second' if args.maml_second_order else 'first'}-order MAML "
                f"{info['steps']} meta-steps "
                f"({info['train_s']:.0f} s CPU), {args.maml_inner_steps} inner steps "
                f"(train) / {args.maml_test_steps} (test), kept step "
                f"{info['best_step']}",
                steps=info["steps"],
                config=dict(
                    model=(
                        f"conv4 {args.maml_features}ch transductive BN"
                        f"{', no last pool' if args.no_last_pool else ''} + Dense(5), "
                        "patches conv"
                    ),
                    first_order=not args.maml_second_order,
                    rotated_base_classes=args.rotate_classes,
                    train_shot=shot,
                    train_query=args.maml_query,
                    meta_batch=args.maml_tasks,
                    inner_lr=args.maml_inner_lr,
                    inner_steps_train=args.maml_inner_steps,
                    inner_steps_test=args.maml_test_steps,
                    optimizer="adam",
                    meta_lr=args.maml_lr,
                    augment="hflip + 2px shift",
                    model_selection=(
                        f"best of every {CHUNK} steps on {VAL_EPISODES} 5-way "
                        f"{shot}-shot episodes of held-out base-class images"
                    ),
                    **{k: v for k, v in info.items() if k != "history"},
                ),
                history=info["history"],
            )


if __name__ == "__main__":
    main()
