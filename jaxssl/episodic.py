"""The episodic training loop: every few-shot and meta-learning method from a config.

``train_and_evaluate(config, workdir)`` is the few-shot twin of
:func:`jaxssl.train.train_and_evaluate`, with the same workdir contract
(``config.json``, resumable Orbax checkpoints, ``metrics.jsonl``, TensorBoard
events, a progress bar and ``summary.json``). A config is few-shot when it
has an ``episodes`` section; ``jaxssl train`` sends such configs here.

What a run does:

1. Data. ``episodes.dataset`` is an image dataset spec (``digits``,
   ``idx:<dir>``, ``tfds:<name>``) split by class into base, validation and
   novel classes (:func:`jaxssl.meta.split_classes`), optionally with
   rotation-augmented classes (each class at 0/90/180/270 degrees becomes
   four classes, in every part), or ``"sinusoid"`` for the MAML paper's
   regression tasks. Without validation classes (``num_val=0``), validation
   episodes come from the base classes' test-split images and training from
   their train-split images; novel classes use all their images.
2. Method. ``method.name`` picks an objective from
   :mod:`jaxssl.meta.fewshot_methods` (``protonet``, ``matching``, ``maml``
   (``first_order=True``: FOMAML), ``anil``, ``meta_sgd``, ``meta_lstm``,
   ``finetune``, ``cosine``); ``model`` the embedding; ``optim`` the Optax
   optimizer (:func:`jaxssl.optim.make_optimizer`).
3. Training. ``train.steps_per_call`` steps run as one jitted ``lax.scan``
   with the state donated; each step samples its tasks (or, for the
   baselines, a batch of base-class images) on the device from
   ``fold_in(rng, step)``, so a run is a function of its config and a killed
   run resumes from its last checkpoint to the same result.
4. Meta-validation. Every ``train.val_every`` steps (and at the end) the
   method is scored on ``episodes.val_episodes`` fixed validation episodes
   (test way, first test shot); the best parameters and their step are kept
   in the checkpointed state and are the ones tested.
5. Test. For each shot in ``episodes.test_shots``, ``episodes.test_episodes``
   (>= 600 for reported numbers) novel-class episodes: the mean query
   accuracy and its 95% confidence interval (``1.96 * std / sqrt(n)``) go to
   ``summary.json`` as ``test_<way>way_<shot>shot_accuracy`` and
   ``..._ci95`` (sinusoid: ``test_<shot>shot_mse`` and ``..._ci95``, the
   post-adaptation query MSE). Test episodes come from
   ``jax.random.key(1000 + shot)``, the convention of
   ``benchmarks/fewshot_bench.py``: every method and seed is scored on the
   same episodes.

Single device: tasks are vmapped on one device. Spreading the task axis over
several devices (the data-parallel wrappers of :mod:`jaxssl.parallel`) is a
follow-up.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import os
import time
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import orbax.checkpoint as ocp

from jaxssl import data as data_lib
from jaxssl import optim
from jaxssl.evaluation.fewshot import evaluate_episodes
from jaxssl.meta import episodes as episodes_lib
from jaxssl.meta.episodes import (
    EpisodeData,
    make_episode_data,
    sample_episodes,
    sample_sinusoid_tasks,
    split_classes,
)
from jaxssl.meta.fewshot_methods import FewShotMethod, build_fewshot_method
from jaxssl.train import (
    TrainState,
    non_finite_loss_error,
    restore_workdir,
    start_run,
    write_json_atomic,
)

SINUSOID = "sinusoid"
SECTIONS = ("method", "model", "optim", "episodes", "train")
# Test episodes: the same keys as benchmarks/fewshot_bench.py.
TEST_KEY_OFFSET = 1000
VAL_KEY = 999


def is_episodic(config: ml_collections.ConfigDict) -> bool:
    """Whether ``config`` is a few-shot config (it has an ``episodes`` section)."""
    return "episodes" in config


# --------------------------------------------------------------------------
# Config checks


def _field(config, path: str):
    value = config
    for part in path.split("."):
        if part not in value:
            raise ValueError(f"config field {path} is missing")
        value = value[part]
    return value


def _int(config, path: str, low: int = 1) -> int:
    value = _field(config, path)
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{path}={value!r} must be an integer >= {low}")
    return value


def _episodes_multiple(config, path: str) -> None:
    num = _int(config, path, low=2)
    chunk = _int(config, "episodes.eval_chunk")
    if num % chunk:
        raise ValueError(
            f"{path}={num} must be a multiple of episodes.eval_chunk={chunk}"
        )


def validate_config(config: ml_collections.ConfigDict) -> None:
    """Check the fields the episodic loop owns; ValueError names the field."""
    for section in SECTIONS:
        if section not in config:
            raise ValueError(f"few-shot config has no {section!r} section")
    if isinstance(config.get("seed"), bool) or not isinstance(config.get("seed"), int):
        raise ValueError(f"seed={config.get('seed')!r} must be an integer")
    for path in ("train.total_steps", "train.steps_per_call", "train.log_every"):
        _int(config, path)
    for path in ("train.val_every", "train.ckpt_every"):
        _int(config, path, low=0)
    ep = config.episodes
    if not isinstance(_field(config, "episodes.dataset"), str):
        raise ValueError(f"episodes.dataset={ep.dataset!r} must be a string")
    for path in ("episodes.shot", "episodes.query", "episodes.tasks_per_step"):
        _int(config, path)
    _int(config, "episodes.test_query")
    shots = _field(config, "episodes.test_shots")
    if not isinstance(shots, tuple | list) or any(
        isinstance(s, bool) or not isinstance(s, int) or s < 1 for s in shots
    ):
        raise ValueError(
            f"episodes.test_shots={shots!r} must be a tuple of ints >= 1 (empty: "
            "test with episodes.shot)"
        )
    _episodes_multiple(config, "episodes.test_episodes")
    if config.train.val_every:
        _episodes_multiple(config, "episodes.val_episodes")
    augment = _field(config, "episodes.augment")
    if not isinstance(augment, str):
        raise ValueError(f"episodes.augment={augment!r} must be a string")
    if ep.dataset == SINUSOID:
        if augment:
            raise ValueError("episodes.augment must be '' for sinusoid tasks")
        return
    for path in ("episodes.way", "episodes.num_base"):
        _int(config, path)
    for path in ("episodes.num_val", "episodes.train_way"):
        _int(config, path, low=0)
    split_seed = _field(config, "episodes.split_seed")
    if isinstance(split_seed, bool) or not isinstance(split_seed, int):
        raise ValueError(
            f"episodes.split_seed={split_seed!r} must be an integer (-1: classes "
            "in order)"
        )
    if not isinstance(_field(config, "episodes.rotate"), bool):
        raise ValueError(f"episodes.rotate={ep.rotate!r} must be True or False")


# --------------------------------------------------------------------------
# Data


def _rotate(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    rotate_classes = getattr(episodes_lib, "rotate_classes", None)
    if rotate_classes is None:
        raise ValueError(
            "episodes.rotate=True needs jaxssl.meta.rotate_classes, which this "
            "version of jaxssl lacks; set episodes.rotate=False"
        )
    x, y = rotate_classes(x, y)
    return np.asarray(x), np.asarray(y)


def _part(x, y, classes, *, rotate: bool) -> tuple[np.ndarray, np.ndarray, tuple]:
    """The examples of ``classes`` (rotation-augmented: 4x the classes)."""
    keep = np.isin(y, np.asarray(classes))
    x, y = x[keep], y[keep]
    if rotate:
        x, y = _rotate(x, y)
    return x, y, tuple(int(c) for c in np.unique(y))


@dataclasses.dataclass(frozen=True)
class FewShotData:
    """Episode data of each part of the split, on the device.

    Attributes:
      name: the dataset spec.
      task: ``"classification"`` or ``"regression"`` (sinusoid).
      base, val, novel: :class:`EpisodeData` (None for sinusoid).
      base_batches: ``{"x": uint8 [N, ...], "y": int32 [N]}``, the base-class
        training images labelled by position in ``base_classes`` (the
        baselines' pretraining set).
      example_x: float ``[2, ...]``: a batch of the input shape, for init.
      num_base_classes: classes in ``base`` (after rotation).
    """

    name: str
    task: str
    base: EpisodeData | None
    val: EpisodeData | None
    novel: EpisodeData | None
    base_batches: dict[str, jax.Array] | None
    example_x: jax.Array
    num_base_classes: int


def load_fewshot_data(config: ml_collections.ConfigDict) -> FewShotData:
    """Build the episode data the ``episodes`` section describes.

    Raises:
      ValueError: for a bad split or episode shape (naming the field).
      FileNotFoundError: when the dataset is missing.
    """
    ep = config.episodes
    if ep.dataset == SINUSOID:
        return FewShotData(
            SINUSOID, "regression", None, None, None, None, jnp.zeros((2, 1)), 0
        )
    ds = data_lib.load_dataset(ep.dataset, data_dir=ep.get("data_dir"))
    try:
        split = split_classes(
            ds.num_classes,
            num_base=ep.num_base,
            num_val=ep.num_val,
            seed=None if ep.split_seed < 0 else ep.split_seed,
        )
    except ValueError:
        raise ValueError(
            f"episodes.num_base={ep.num_base}, episodes.num_val={ep.num_val}: "
            f"together at most {ds.num_classes - 1} ({ds.name} has "
            f"{ds.num_classes} classes; at least one must be novel)"
        ) from None
    all_x = np.concatenate([ds.train_images, ds.test_images])
    all_y = np.concatenate([ds.train_labels, ds.test_labels])
    rotate = ep.rotate
    if ep.num_val:
        base = _part(all_x, all_y, split.base, rotate=rotate)
        val = _part(all_x, all_y, split.val, rotate=rotate)
    else:  # Held-out images of the base classes: their test-split images.
        base = _part(ds.train_images, ds.train_labels, split.base, rotate=rotate)
        val = _part(ds.test_images, ds.test_labels, split.base, rotate=rotate)
        missing = sorted(set(base[2]) - set(val[2]))
        if missing:
            raise ValueError(
                f"episodes.num_val=0 validates on the base classes' test-split "
                f"images, but classes {missing[:5]} have none there; set "
                "episodes.num_val > 0 (validation classes)"
            )
    novel = _part(all_x, all_y, split.novel, rotate=rotate)
    parts = {
        name: make_episode_data(*part)
        for name, part in (("base", base), ("val", val), ("novel", novel))
    }
    base_x, base_y, base_classes = base
    positions = np.searchsorted(np.asarray(base_classes), base_y).astype(np.int32)
    return FewShotData(
        ds.name,
        "classification",
        parts["base"],
        parts["val"],
        parts["novel"],
        {"x": jnp.asarray(base_x), "y": jnp.asarray(positions)},
        data_lib.to_float(base_x[:2]),
        len(base_classes),
    )


def _check_shape(
    data: EpisodeData, where: str, way: int, shot: int, query: int, fields: str
) -> None:
    """Episodes of this shape fit ``data``; the error names the config fields."""
    if way > data.num_classes:
        raise ValueError(
            f"{where}: way={way} exceeds the {data.num_classes} classes there "
            "(see episodes.way, train_way, num_base, num_val)"
        )
    if shot + query > data.min_count:
        raise ValueError(
            f"{where}: {fields} = {shot} + {query} exceeds the smallest class "
            f"there ({data.min_count} examples)"
        )


def _sample_image_tasks(rng, data, *, num_tasks, way, shot, query):
    """Episodes with float images in [0, 1]."""
    tasks = sample_episodes(
        rng, data, num_tasks=num_tasks, way=way, shot=shot, query=query
    )
    for part in ("support", "query"):
        tasks[part] = {**tasks[part], "x": data_lib.to_float(tasks[part]["x"])}
    return tasks


def _sample_sinusoid(rng, data, *, num_tasks, way, shot, query):
    del data, way
    return sample_sinusoid_tasks(rng, num_tasks=num_tasks, shot=shot, query=query)


# --------------------------------------------------------------------------
# Experiment


@dataclasses.dataclass(eq=False)
class EpisodicExperiment:
    """Everything built from a few-shot config before the first step.

    A static argument of the jitted functions: it hashes and compares by its
    config (everything traced in it is a function of the config), so runs of
    one config share compilations (a resumed run, tests).
    """

    config: ml_collections.ConfigDict
    data: FewShotData
    method: FewShotMethod
    tx: optax.GradientTransformation
    schedule: optax.Schedule
    augment_fn: Callable[[jax.Array, jax.Array], jax.Array]
    sample_fn: Callable[..., Any]
    way: int  # test (and validation) way
    train_way: int

    def _key(self) -> str:
        # The loop's bookkeeping periods do not enter any traced function.
        config = json.loads(self.config.to_json_best_effort())
        for field in ("steps_per_call", "log_every", "val_every", "ckpt_every"):
            config["train"].pop(field, None)
        return json.dumps(config, sort_keys=True)

    def __hash__(self) -> int:
        return hash(self._key())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, EpisodicExperiment):
            return NotImplemented
        return self is other or self._key() == other._key()

    @property
    def test_shots(self) -> tuple[int, ...]:
        """``episodes.test_shots``, or ``(episodes.shot,)`` when it is empty."""
        ep = self.config.episodes
        return tuple(ep.test_shots) or (ep.shot,)


def build_experiment(config: ml_collections.ConfigDict) -> EpisodicExperiment:
    """Validate ``config`` and build data, method and optimizer.

    Every user error surfaces here as a ValueError/FileNotFoundError naming
    the field, before any training work starts.
    """
    validate_config(config)
    data = load_fewshot_data(config)
    ep = config.episodes
    regression = data.task == "regression"
    way = 1 if regression else ep.way
    train_way = way if regression else (ep.train_way or ep.way)
    method = build_fewshot_method(
        config,
        image_shape=tuple(data.example_x.shape[1:]),
        task=data.task,
        way=way,
        num_base_classes=data.num_base_classes,
    )
    if train_way != way and method.name not in ("protonet", "matching"):
        raise ValueError(
            f"episodes.train_way={train_way} differs from episodes.way={way}: only "
            "protonet and matching train with another way (the other methods' "
            "heads have `way` outputs); set episodes.train_way=0"
        )
    if not regression:
        _check_shape(
            data.base,
            "base classes",
            train_way,
            ep.shot,
            ep.query,
            "episodes.shot + episodes.query",
        )
        shots = tuple(ep.test_shots) or (ep.shot,)
        if config.train.val_every:
            _check_shape(
                data.val,
                "validation",
                way,
                shots[0],
                ep.test_query,
                "episodes.test_shots[0] + episodes.test_query",
            )
        for shot in shots:
            _check_shape(
                data.novel,
                "novel classes",
                way,
                shot,
                ep.test_query,
                "test shot + episodes.test_query",
            )
        if method.trains_on == "batches":
            batch_size = config.method.batch_size
            if not 1 <= batch_size <= data.base_batches["y"].shape[0]:
                raise ValueError(
                    f"method.batch_size={batch_size} must be in [1, "
                    f"{data.base_batches['y'].shape[0]}] (base-class images)"
                )
    total = config.train.total_steps
    return EpisodicExperiment(
        config=config,
        data=data,
        method=method,
        tx=optim.make_optimizer(config.optim, total_steps=total),
        schedule=optim.make_schedule(config.optim, total_steps=total),
        augment_fn=data_lib.make_augment_fn(ep.augment),
        sample_fn=_sample_sinusoid if regression else _sample_image_tasks,
        way=way,
        train_way=train_way,
    )


def init_state(exp: EpisodicExperiment, rng_init: jax.Array) -> TrainState:
    """Fresh state; ``extra`` holds the best validated params and their step."""
    return _init_state(rng_init, exp.data.example_x, exp=exp)


@functools.partial(jax.jit, static_argnames=("exp",))
def _init_state(rng_init, example_x, *, exp):
    # Jitted: Flax init op by op is slow on a loaded CPU.
    params = exp.method.init(rng_init, example_x)
    worst = -np.inf if exp.method.higher_is_better else np.inf
    extra = {
        "best_params": jax.tree.map(jnp.copy, params),
        "best_score": jnp.asarray(worst, jnp.float32),
        "best_step": jnp.zeros((), jnp.int32),
    }
    return TrainState(
        step=jnp.zeros((), jnp.int32),
        params=params,
        opt_state=exp.tx.init(params),
        extra=extra,
    )


# --------------------------------------------------------------------------
# The step


def _train_data(exp: EpisodicExperiment):
    if exp.method.trains_on == "batches":
        return exp.data.base_batches
    return exp.data.base


def _training_batch(exp: EpisodicExperiment, rng: jax.Array, data, step: jax.Array):
    """The step's tasks (or labeled batch), sampled and augmented on the device."""
    rng_order, rng_steps = jax.random.split(rng)
    rng_sample, rng_aug = jax.random.split(jax.random.fold_in(rng_steps, step))
    ep = exp.config.episodes
    if exp.method.trains_on == "batches":
        batch_size = exp.config.method.batch_size
        idx = data_lib.batch_indices(rng_order, data["y"].shape[0], batch_size, step)
        images = exp.augment_fn(rng_aug, data_lib.to_float(data["x"][idx]))
        return {"x": images, "y": data["y"][idx]}
    tasks = exp.sample_fn(
        rng_sample,
        data,
        num_tasks=ep.tasks_per_step,
        way=exp.train_way,
        shot=ep.shot,
        query=ep.query,
    )
    if ep.augment:
        rngs = jax.random.split(rng_aug, 2 * ep.tasks_per_step).reshape(2, -1)
        for rngs_part, part in zip(rngs, ("support", "query"), strict=True):
            images = jax.vmap(exp.augment_fn)(rngs_part, tasks[part]["x"])
            tasks[part] = {**tasks[part], "x": images}
    return tasks


def train_step(
    state: TrainState, rng: jax.Array, data: Any, *, exp: EpisodicExperiment
) -> tuple[TrainState, dict[str, jax.Array]]:
    """One meta-update; a pure function of ``(state, rng, data)``."""
    batch = _training_batch(exp, rng, data, state.step)
    rng_loss = jax.random.fold_in(jax.random.fold_in(rng, 1), state.step)
    grad_fn = jax.value_and_grad(exp.method.loss, has_aux=True)
    (loss, metrics), grads = grad_fn(state.params, batch, rng_loss)
    updates, opt_state = exp.tx.update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    metrics = {"loss": loss, "grad_norm": optax.tree.norm(grads), **metrics}
    return state.replace(step=state.step + 1, params=params, opt_state=opt_state), (
        metrics
    )


@functools.partial(jax.jit, static_argnames=("exp", "length"), donate_argnums=(0,))
def train_chunk(
    state: TrainState,
    rng: jax.Array,
    data: Any,
    *,
    exp: EpisodicExperiment,
    length: int,
) -> tuple[TrainState, dict[str, jax.Array]]:
    """``length`` (static) steps as one ``lax.scan``; metrics stacked ``[length]``.

    The state is donated: do not reuse the ``state`` passed in.
    """
    step = functools.partial(train_step, rng=rng, data=data, exp=exp)
    return jax.lax.scan(lambda s, _: step(s), state, length=length)


# --------------------------------------------------------------------------
# Evaluation


@dataclasses.dataclass(frozen=True)
class _MethodScore:
    """``score(episode, params)``: the method's score, for ``evaluate_episodes``.

    A static argument of the jitted scorer that hashes by the experiment (by
    its config), so every checkpoint, and every experiment of one config,
    shares one compilation.
    """

    exp: EpisodicExperiment

    def __call__(self, episode: Any, params: Any) -> jax.Array:
        return self.exp.method.score(params, episode)


def evaluate_params(
    exp: EpisodicExperiment,
    params: Any,
    data: EpisodeData | None,
    rng: jax.Array,
    *,
    shot: int,
    num_episodes: int,
) -> tuple[float, float]:
    """Mean score (accuracy or MSE) over episodes and its 95% interval.

    Scored by :func:`jaxssl.evaluation.evaluate_episodes` with the experiment's
    sampler; ``params`` is a traced ``score_args`` entry, not a constant, so
    one compilation serves every validation.
    """
    ep = exp.config.episodes
    mean, ci95, _ = evaluate_episodes(
        rng,
        data,
        _MethodScore(exp),
        score_args=(params,),
        sample_fn=exp.sample_fn,
        way=exp.way,
        shot=shot,
        query=ep.test_query,
        num_episodes=num_episodes,
        chunk=ep.eval_chunk,
    )
    return mean, ci95


def validate(exp: EpisodicExperiment, params: Any) -> tuple[float, float]:
    """Score on the fixed validation episodes (test way, first test shot)."""
    return evaluate_params(
        exp,
        params,
        exp.data.val,
        jax.random.key(VAL_KEY),
        shot=exp.test_shots[0],
        num_episodes=exp.config.episodes.val_episodes,
    )


def summary_key(exp: EpisodicExperiment, shot: int) -> str:
    """The summary key of a test shot, e.g. ``test_5way_1shot_accuracy``."""
    if exp.data.task == "regression":
        return f"test_{shot}shot_{exp.method.score_name}"
    return f"test_{exp.way}way_{shot}shot_{exp.method.score_name}"


def run_test_episodes(exp: EpisodicExperiment, params: Any) -> dict[str, float]:
    """Novel-class (or fresh sinusoid) test episodes for every test shot."""
    results = {}
    for shot in exp.test_shots:
        mean, ci95 = evaluate_params(
            exp,
            params,
            exp.data.novel,
            jax.random.key(TEST_KEY_OFFSET + shot),
            shot=shot,
            num_episodes=exp.config.episodes.test_episodes,
        )
        key = summary_key(exp, shot)
        results[key] = mean
        results[f"{key}_ci95"] = ci95
    return results


# --------------------------------------------------------------------------
# The loop


def _next_boundary(step: int, total: int, periods: tuple[int, ...]) -> int:
    """The first step after ``step`` that ends a chunk: a multiple of a period."""
    ends = [(step // p + 1) * p for p in periods if p]
    return min([total, *ends])


def _is_better(exp: EpisodicExperiment, score: float, best: float) -> bool:
    return score > best if exp.method.higher_is_better else score < best


def train_and_evaluate(
    config: ml_collections.ConfigDict,
    workdir: str,
    *,
    exp: EpisodicExperiment | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Meta-train ``config`` in ``workdir`` (resuming if it has a checkpoint).

    Args:
      config: a few-shot config (one with an ``episodes`` section).
      workdir: output folder; created if missing.
      exp: an already built experiment (the CLI builds it first).
      progress: show a progress bar.

    Returns:
      The summary written to ``workdir/summary.json``.

    Raises:
      NonFiniteLossError: the loss became NaN/inf; checkpoints stop before it.
    """
    start_time = time.time()
    exp = exp or build_experiment(config)
    tcfg = config.train
    total = tcfg.total_steps
    score_name = exp.method.score_name
    periods = (tcfg.steps_per_call, tcfg.log_every, tcfg.val_every, tcfg.ckpt_every)
    desc = f"{exp.method.name}/{exp.data.name}"
    setup = start_run(config, workdir, exp, init_state, desc=desc, progress=progress)
    with setup as run:
        state, step = run.state, run.start_step
        data = _train_data(exp)
        pending: list[dict[str, Any]] = []
        last_metrics: dict[str, float] = {}
        train_s, trained_steps = 0.0, 0
        while step < total:
            end = _next_boundary(step, total, periods)
            tick = time.time()
            state, metrics = train_chunk(
                state, run.rng_train, data, exp=exp, length=end - step
            )
            jax.block_until_ready(state.step)
            train_s += time.time() - tick
            trained_steps += end - step
            step = end
            pending.append(metrics)
            is_log = step % tcfg.log_every == 0 or step == total
            is_val = bool(tcfg.val_every) and (
                step % tcfg.val_every == 0 or step == total
            )
            is_ckpt = (tcfg.ckpt_every and step % tcfg.ckpt_every == 0) or (
                step == total
            )
            run.bar.update(step - run.bar.n)
            if not (is_log or is_val or is_ckpt):
                continue
            host = jax.device_get(pending)
            pending = []
            losses = np.concatenate([np.asarray(m["loss"]) for m in host])
            if not np.all(np.isfinite(losses)):
                raise non_finite_loss_error(step, run.manager, workdir)
            means = {
                k: float(np.mean(np.concatenate([np.asarray(m[k]) for m in host])))
                for k in host[0]
            }
            last_metrics = {k: float(np.asarray(v)[-1]) for k, v in host[-1].items()}
            if is_val:
                val, val_ci = validate(exp, state.params)
                means[f"val_{score_name}"] = val
                means[f"val_{score_name}_ci95"] = val_ci
                if _is_better(exp, val, float(state.extra["best_score"])):
                    state = state.replace(
                        extra={
                            "best_params": jax.tree.map(jnp.copy, state.params),
                            "best_score": jnp.asarray(val, jnp.float32),
                            "best_step": jnp.asarray(step, jnp.int32),
                        }
                    )
            means["lr"] = float(exp.schedule(step - 1))
            means["steps_per_sec"] = trained_steps / max(train_s, 1e-9)
            run.log.write(step, means)
            run.bar.set_postfix(loss=f"{means['loss']:.4g}")
            if is_ckpt:
                run.manager.save(
                    step, args=ocp.args.StandardSave(jax.device_get(state))
                )

    summary = _summarize(exp, jax.device_get(state))
    summary.update(
        final_loss=last_metrics.get("loss", float("nan")),
        final_metrics=last_metrics,
        steps_per_sec=trained_steps / train_s if train_s else float("nan"),
        wall_s=time.time() - start_time,
    )
    write_json_atomic(os.path.join(workdir, "summary.json"), summary)
    return summary


def _summarize(exp: EpisodicExperiment, state: TrainState) -> dict[str, Any]:
    """Test the kept parameters: the best validated ones, else the last."""
    config = exp.config
    validated = bool(config.train.val_every)
    params = state.extra["best_params"] if validated else state.params
    ep = config.episodes
    summary: dict[str, Any] = {
        "method": exp.method.name,
        "dataset": exp.data.name,
        "steps": int(state.step),
        "tested_step": int(state.extra["best_step"]) if validated else int(state.step),
        "num_test_episodes": ep.test_episodes,
        "num_test_queries": ep.test_query,
        "device": f"1x {jax.devices()[0].platform}",
        "num_devices": 1,
    }
    if validated:
        summary[f"val_best_{exp.method.score_name}"] = float(state.extra["best_score"])
    summary.update(run_test_episodes(exp, params))
    return summary


# --------------------------------------------------------------------------
# Re-evaluation of a workdir


def restore_run(workdir: str) -> tuple[EpisodicExperiment, TrainState]:
    """Rebuild a few-shot workdir's experiment and restore its latest state."""
    return restore_workdir(workdir, build_experiment, init_state)


def evaluate_checkpoint(workdir: str) -> dict[str, float]:
    """Test the latest checkpoint of a few-shot workdir; writes ``eval.json``."""
    exp, state = restore_run(workdir)
    results = _summarize(exp, state)
    results = {
        k: v
        for k, v in results.items()
        if isinstance(v, int | float) and math.isfinite(v)
    }
    write_json_atomic(os.path.join(workdir, "eval.json"), results)
    return results
