"""The one generic training loop every method plugs into.

``train_and_evaluate(config, workdir)`` builds the data, method, optimizer and
device placement from the config, then runs one jitted, donated step:
batches are sampled and augmented on the device from ``fold_in(rng, step)``,
so a run is a pure function of its config and seed and resumes bitwise from
any Orbax checkpoint. The loop writes ``metrics.jsonl``, TensorBoard events,
periodic evaluations, plots and ``summary.json`` to the workdir.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import math
import os
import time
from collections.abc import Callable, Iterator
from typing import Any

import flax
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import orbax.checkpoint as ocp
import tqdm

from jaxssl import data as data_lib
from jaxssl import optim
from jaxssl.evaluation.knn import knn_accuracy
from jaxssl.evaluation.linear_probe import linear_probe
from jaxssl.methods import Method, build_method
from jaxssl.parallel import DataParallel, check_global_batch, make_data_parallel


class NonFiniteLossError(RuntimeError):
    """Training produced a NaN/inf loss; the last good checkpoint is kept."""


def non_finite_loss_error(
    step: int, manager: ocp.CheckpointManager, workdir: str, detail: str = ""
) -> NonFiniteLossError:
    """The error both training loops raise when a loss became NaN/inf."""
    return NonFiniteLossError(
        f"loss became non-finite by step {step}{detail}; last good checkpoint: "
        f"step {manager.latest_step()} in {workdir}/checkpoints. Lower optim.lr "
        "or enable optim.clip_norm."
    )


@flax.struct.dataclass
class TrainState:
    """Everything that changes during training (no RNG: keys are derived).

    Attributes:
      step: int32 scalar, number of updates applied.
      params: differentiated parameters.
      opt_state: Optax state.
      extra: non-differentiated method state (EMA targets, queues, ...).
    """

    step: jax.Array
    params: Any
    opt_state: Any
    extra: Any


# --------------------------------------------------------------------------
# Config checks that span sections (each section's own factory checks the rest)


def _positive_int(config, path: str, allow_zero: bool = False) -> None:
    value = config
    for part in path.split("."):
        value = value[part]
    ok = isinstance(value, int) and not isinstance(value, bool)
    ok = ok and (value >= 0 if allow_zero else value > 0)
    if not ok:
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{path}={value!r} must be an integer {bound}")


def validate_config(config: ml_collections.ConfigDict) -> None:
    """Check fields the trainer owns; raises ValueError naming the field."""
    for section in ("method", "model", "optim", "input", "train"):
        if section not in config:
            raise ValueError(f"config has no {section!r} section")
    _positive_int(config, "input.batch_size")
    _positive_int(config, "train.total_steps")
    _positive_int(config, "train.log_every")
    _positive_int(config, "train.ckpt_every", allow_zero=True)
    _positive_int(config, "evals.every", allow_zero=True)
    _positive_int(config, "num_devices", allow_zero=True)
    if "labels_per_class" in config.input:
        _positive_int(config, "input.labels_per_class", allow_zero=True)
    if not isinstance(config.seed, int):
        raise ValueError(f"seed={config.seed!r} must be an integer")


@dataclasses.dataclass
class Experiment:
    """Everything built from a config before the first step."""

    config: ml_collections.ConfigDict
    dataset: data_lib.Dataset
    method: Method
    tx: optax.GradientTransformation
    schedule: optax.Schedule
    parallel: DataParallel
    augment_fn: Callable[[jax.Array, jax.Array], jax.Array]
    train_images: np.ndarray  # What the step trains on: all, or a labeled subset.
    train_labels: np.ndarray


def build_experiment(config: ml_collections.ConfigDict) -> Experiment:
    """Validate the config and build data, method, optimizer and devices.

    Every user error surfaces here as a ValueError/FileNotFoundError with a
    one-line message, before any training work starts.
    """
    validate_config(config)
    dataset = data_lib.load_dataset(
        config.input.dataset, data_dir=config.input.get("data_dir")
    )
    train_images, train_labels = data_lib.training_set(config)
    if config.input.batch_size > train_images.shape[0]:
        raise ValueError(
            f"input.batch_size={config.input.batch_size} exceeds the "
            f"{train_images.shape[0]} training examples of {dataset.name}"
        )
    parallel = make_data_parallel(config.parallel, config.num_devices)
    check_global_batch(config.input.batch_size, parallel.num_devices)
    total = config.train.total_steps
    tx = optim.make_optimizer(config.optim, total_steps=total)
    schedule = optim.make_schedule(config.optim, total_steps=total)
    method = build_method(config, dataset.image_shape, dataset.num_classes)
    augment_fn = data_lib.make_augment_fn(config.input.get("augment", ""))
    return Experiment(
        config,
        dataset,
        method,
        tx,
        schedule,
        parallel,
        augment_fn,
        train_images,
        train_labels,
    )


# --------------------------------------------------------------------------
# The step


def train_step(
    state: TrainState,
    data: data_lib.DeviceDataset,
    rng: jax.Array,
    *,
    parallel: DataParallel,
    method: Method,
    tx: optax.GradientTransformation,
    batch_size: int,
    augment_fn: Callable[[jax.Array, jax.Array], jax.Array],
) -> tuple[TrainState, dict[str, jax.Array]]:
    """One update on a global batch drawn on the device.

    ``rng`` is the run's base key. The data order comes from ``fold_in(rng, 0)``
    (one permutation per epoch, a function of the step), and the step's own
    randomness from ``fold_in(rng, step + 1)``; so the step is a pure function
    of (state, data, rng) and a resumed run replays the same batches.
    """
    rng_data = jax.random.fold_in(rng, 0)
    rng_step = jax.random.fold_in(rng, state.step + 1)
    rng_aug, rng_obj = jax.random.split(rng_step)
    num_examples = data.images.shape[0]
    idx = data_lib.batch_indices(rng_data, num_examples, batch_size, state.step)
    batch = data_lib.get_batch(data, idx)
    batch["image"] = augment_fn(rng_aug, batch["image"])
    batch = parallel.local_batch(batch)
    return apply_update(
        state,
        batch,
        parallel.local_rng(rng_obj),
        parallel=parallel,
        method=method,
        tx=tx,
    )


def apply_update(
    state: TrainState,
    batch: dict[str, jax.Array],
    rng: jax.Array,
    *,
    parallel: DataParallel,
    method: Method,
    tx: optax.GradientTransformation,
) -> tuple[TrainState, dict[str, jax.Array]]:
    """Gradient of the method's objective on ``batch``, then the Optax update.

    Split from ``train_step`` so a host-fed loop (benchmarks) runs the same
    update on batches it builds itself.
    """
    objective = method.make_objective(state.extra)
    grad_fn = jax.value_and_grad(objective, has_aux=True)
    (loss, aux), grads = grad_fn(state.params, batch, rng)
    loss, grads, metrics = parallel.reduce((loss, grads, aux.get("metrics", {})))
    extra = parallel.reduce(aux.get("extra", state.extra))

    updates, opt_state = tx.update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    extra = method.post_update(params, extra, state.step)
    metrics = {"loss": loss, "grad_norm": optax.tree.norm(grads), **metrics}
    new_state = state.replace(
        step=state.step + 1, params=params, opt_state=opt_state, extra=extra
    )
    return new_state, metrics


def compile_train_step(exp: Experiment) -> Callable[..., Any]:
    """The experiment's jitted (or pmapped) step: ``(state, data, rng) -> ...``."""
    return exp.parallel.compile_step(
        functools.partial(
            train_step,
            method=exp.method,
            tx=exp.tx,
            batch_size=exp.config.input.batch_size,
            augment_fn=exp.augment_fn,
        )
    )


def place_data(exp: Experiment) -> data_lib.DeviceDataset:
    """The training set on the device(s), where the step expects it."""
    return exp.parallel.put_replicated(
        data_lib.make_device_dataset(exp.train_images, exp.train_labels)
    )


def init_state(exp: Experiment, rng_init: jax.Array) -> TrainState:
    images = data_lib.to_float(exp.dataset.train_images[:2])
    sample = {"image": images, "label": jnp.asarray(exp.dataset.train_labels[:2])}
    params, extra = exp.method.init(rng_init, sample)
    return TrainState(
        step=jnp.zeros((), jnp.int32),
        params=params,
        opt_state=exp.tx.init(params),
        extra=extra,
    )


# --------------------------------------------------------------------------
# Checkpoints


def make_checkpoint_manager(workdir: str) -> ocp.CheckpointManager:
    """Orbax manager; saves are atomic (written to a temporary dir, renamed)."""
    options = ocp.CheckpointManagerOptions(max_to_keep=2, create=True)
    return ocp.CheckpointManager(
        os.path.join(os.path.abspath(workdir), "checkpoints"), options=options
    )


def restore_latest(
    manager: ocp.CheckpointManager, template: TrainState
) -> TrainState | None:
    step = manager.latest_step()
    if step is None:
        return None
    device = jax.sharding.SingleDeviceSharding(jax.devices()[0])
    abstract = jax.tree.map(
        lambda x: jax.ShapeDtypeStruct(np.shape(x), x.dtype, sharding=device), template
    )
    return manager.restore(step, args=ocp.args.StandardRestore(abstract))


# --------------------------------------------------------------------------
# Logging


class MetricsLog:
    """``metrics.jsonl`` plus TensorBoard events, consistent across resumes."""

    def __init__(self, workdir: str, start_step: int):
        from tensorboardX import SummaryWriter

        self.path = os.path.join(workdir, "metrics.jsonl")
        if os.path.exists(self.path):  # Drop lines a killed run wrote after its ckpt.
            with open(self.path) as f:
                lines = [ln for ln in f if json.loads(ln)["step"] <= start_step]
            with open(self.path, "w") as f:
                f.writelines(lines)
        self.writer = SummaryWriter(os.path.join(workdir, "tb"), purge_step=start_step)

    def write(self, step: int, metrics: dict[str, float]) -> None:
        with open(self.path, "a") as f:
            f.write(json.dumps({"step": step, **metrics}) + "\n")
        for key, value in metrics.items():
            self.writer.add_scalar(key, value, step)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


def _to_float_dict(tree: dict[str, Any]) -> dict[str, float]:
    return {k: float(np.asarray(v)) for k, v in tree.items()}


def _mean_metrics(pending: list[dict[str, Any]], parallel: DataParallel):
    host = jax.device_get([parallel.unreplicate(m) for m in pending])
    keys = host[0].keys()
    means = {k: float(np.mean([np.asarray(m[k]) for m in host])) for k in keys}
    finite = all(np.isfinite(np.asarray(m["loss"])) for m in host)
    return means, host[-1], finite


# --------------------------------------------------------------------------
# Evaluation


def batched_apply(fn, images: np.ndarray, batch_size: int = 512) -> np.ndarray:
    """``fn`` (jitted here) over uint8 images in batches, as float; NumPy out."""
    fn = jax.jit(fn)
    outs = []
    for start in range(0, images.shape[0], batch_size):
        chunk = data_lib.to_float(images[start : start + batch_size])
        outs.append(np.asarray(fn(chunk)))
    return np.concatenate(outs)


def evaluate(
    exp: Experiment,
    params: Any,
    extra: Any,
    *,
    full: bool,
    raw_baseline: dict[str, float] | None = None,
) -> dict[str, float]:
    """Test-set metrics, kNN accuracy, and (``full``) the linear probe.

    Args:
      exp: the experiment.
      params, extra: one (unreplicated) copy of the method state.
      full: end-of-training metrics: the linear probe (unless
        ``config.evals.final_probe`` is False) and the method's
        ``final_metrics``.
      raw_baseline: precomputed raw-pixel metrics to merge in.

    Returns:
      Flat dict of floats.
    """
    ds, method, cfg = exp.dataset, exp.method, exp.config.evals
    results: dict[str, float] = {}

    eval_fn = jax.jit(lambda batch: method.eval_metrics(params, extra, batch))
    sums: dict[str, float] = {}
    for start in range(0, ds.test_images.shape[0], 500):
        chunk = ds.test_images[start : start + 500]
        labels = ds.test_labels[start : start + 500]
        metrics = eval_fn({"image": data_lib.to_float(chunk), "label": labels})
        for k, v in metrics.items():
            sums[k] = sums.get(k, 0.0) + float(v) * chunk.shape[0]
    results.update({f"test_{k}": v / ds.test_images.shape[0] for k, v in sums.items()})

    encode = lambda images: method.encode(params, extra, images)  # noqa: E731
    train_feats = batched_apply(encode, ds.train_images)
    test_feats = batched_apply(encode, ds.test_images)
    results["knn_accuracy"] = float(
        knn_accuracy(
            train_feats,
            ds.train_labels,
            test_feats,
            ds.test_labels,
            num_classes=ds.num_classes,
            k=cfg.knn_k,
        )
    )
    if full and cfg.get("final_probe", True):
        probe = linear_probe(
            train_feats,
            ds.train_labels,
            test_feats,
            ds.test_labels,
            num_classes=ds.num_classes,
            seed=exp.config.seed,
        )
        results["linear_probe_accuracy"] = float(probe["test_accuracy"])
        results["linear_probe_weight_decay"] = float(probe["best_weight_decay"])
    if full:
        rng = jax.random.key(exp.config.seed)
        results.update(method.final_metrics(params, extra, ds.test_images, rng))
    if raw_baseline:
        results.update(raw_baseline)
    return results


@functools.lru_cache(maxsize=8)
def _raw_baseline_cached(spec: str, data_dir: str | None, k: int, seed: int):
    ds = data_lib.load_dataset(spec, data_dir=data_dir)
    train = ds.train_images.reshape(ds.train_images.shape[0], -1) / np.float32(255)
    test = ds.test_images.reshape(ds.test_images.shape[0], -1) / np.float32(255)
    probe = linear_probe(
        train,
        ds.train_labels,
        test,
        ds.test_labels,
        num_classes=ds.num_classes,
        seed=seed,
    )
    knn = knn_accuracy(
        train, ds.train_labels, test, ds.test_labels, num_classes=ds.num_classes, k=k
    )
    return {
        "linear_probe_raw_accuracy": float(probe["test_accuracy"]),
        "knn_raw_accuracy": float(knn),
    }


def raw_pixel_baseline(exp: Experiment) -> dict[str, float]:
    """Linear probe and kNN on raw pixels: the baseline every method must beat."""
    cfg = exp.config
    return dict(
        _raw_baseline_cached(
            cfg.input.dataset, cfg.input.get("data_dir"), cfg.evals.knn_k, cfg.seed
        )
    )


def write_plots(exp: Experiment, params: Any, extra: Any, workdir: str) -> list[str]:
    """Loss curves, embedding plot and the method's own pictures."""
    from jaxssl.evaluation import plots

    paths = []
    metrics_path = os.path.join(workdir, "metrics.jsonl")
    if os.path.exists(metrics_path):
        path = os.path.join(workdir, "loss_curves.png")
        plots.plot_loss_curves(metrics_path, path, keys=("loss",))
        paths.append(path)
    ds = exp.dataset
    if exp.config.evals.get("embedding_plot", True):
        encode = lambda images: exp.method.encode(params, extra, images)  # noqa: E731
        feats = batched_apply(encode, ds.test_images)
        path = os.path.join(workdir, "embedding_tsne.png")
        plots.plot_embedding(
            feats,
            ds.test_labels,
            path,
            seed=exp.config.seed,
            title=f"{exp.method.name} on {ds.name} (test, t-SNE)",
        )
        paths.append(path)
    images = data_lib.to_float(ds.test_images[:16])
    paths += exp.method.visualize(params, extra, images, workdir)
    return paths


# --------------------------------------------------------------------------
# The loop


def save_config(config: ml_collections.ConfigDict, workdir: str) -> None:
    """Write ``config.json``; refuse to resume a workdir made by another config."""
    path = os.path.join(workdir, "config.json")
    current = json.loads(config.to_json_best_effort())
    if os.path.exists(path):
        with open(path) as f:
            previous = json.load(f)
        if previous != current:
            diff = _diff_keys(previous, current)
            raise ValueError(
                f"workdir {workdir} holds a run with a different config "
                f"(fields differ: {', '.join(diff)}); use a new --workdir"
            )
        return
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(current, f, indent=2, sort_keys=True)
    os.replace(tmp, path)


def _diff_keys(a: Any, b: Any, prefix: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b)):
            out += _diff_keys(a.get(k), b.get(k), f"{prefix}{k}.")
        return out
    return [] if a == b else [prefix.rstrip(".")]


def train_and_evaluate(
    config: ml_collections.ConfigDict,
    workdir: str,
    *,
    exp: Experiment | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Train ``config`` in ``workdir`` (resuming if it has a checkpoint).

    Args:
      config: the experiment config (see ``configs/``).
      workdir: output folder; created if missing.
      exp: an already built experiment (the CLI builds it first to report
        config errors before any work).
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
    parallel = exp.parallel
    desc = f"{exp.method.name}/{exp.dataset.name}"
    setup = start_run(config, workdir, exp, init_state, desc=desc, progress=progress)
    with setup as run:
        # Before any multi-device work: single-device evaluation jobs
        # interleaved with the first multi-device transfers stalled XLA:CPU
        # fake devices here.
        raw = (
            raw_pixel_baseline(exp) if config.evals.get("raw_baseline", True) else None
        )
        data = place_data(exp)
        state = parallel.put_replicated(run.state)
        step_fn = compile_train_step(exp)
        pending: list[dict[str, Any]] = []
        last_metrics: dict[str, float] = {}
        evals_every = config.evals.every
        timer_start, timer_steps = time.time(), 0
        steps_per_sec = float("nan")
        for step in range(run.start_step + 1, total + 1):
            state, metrics = step_fn(state, data, run.rng_train)
            pending.append(metrics)
            timer_steps += 1
            is_log = step % tcfg.log_every == 0 or step == total
            is_ckpt = (tcfg.ckpt_every and step % tcfg.ckpt_every == 0) or step == total
            if not (is_log or is_ckpt):
                continue
            means, last, finite = _mean_metrics(pending, parallel)
            pending = []
            if not finite:
                raise non_finite_loss_error(
                    step,
                    run.manager,
                    workdir,
                    f" (last value {float(np.asarray(last['loss']))})",
                )
            last_metrics = _to_float_dict(last)
            elapsed = time.time() - timer_start
            steps_per_sec = timer_steps / max(elapsed, 1e-9)
            if is_log:
                means["lr"] = float(exp.schedule(step - 1))
                means["steps_per_sec"] = steps_per_sec
                if evals_every and step % evals_every == 0 and step != total:
                    one = parallel.unreplicate(state)
                    means.update(evaluate(exp, one.params, one.extra, full=False))
                run.log.write(step, means)
                run.bar.set_postfix(
                    loss=f"{means['loss']:.4g}", steps_s=f"{steps_per_sec:.1f}"
                )
            if is_ckpt:
                # One host copy: the same bytes whatever the device layout, and
                # no per-device slicing work for Orbax.
                host_state = jax.device_get(parallel.unreplicate(state))
                run.manager.save(step, args=ocp.args.StandardSave(host_state))
            run.bar.update(step - run.bar.n)
            timer_start, timer_steps = time.time(), 0

    one = jax.device_get(parallel.unreplicate(state))
    results = evaluate(exp, one.params, one.extra, full=True, raw_baseline=raw)
    plot_paths = write_plots(exp, one.params, one.extra, workdir)
    summary = {
        "method": exp.method.name,
        "dataset": exp.dataset.name,
        "steps": int(one.step),
        "final_loss": last_metrics.get("loss", float("nan")),
        "final_metrics": last_metrics,
        **results,
        "parallel": config.parallel,
        "num_devices": parallel.num_devices,
        "steps_per_sec": steps_per_sec,
        "wall_s": time.time() - start_time,
        "device": f"{jax.device_count()}x {jax.devices()[0].platform}",
        "plots": [os.path.basename(p) for p in plot_paths],
    }
    write_json_atomic(os.path.join(workdir, "summary.json"), summary)
    return summary


@dataclasses.dataclass
class RunStart:
    """What a training loop starts from (see :func:`start_run`).

    Attributes:
      state: the initial state, or the latest checkpoint's.
      start_step: its step (0 for a new run).
      rng_train: the key every training step folds its step into.
      manager: the workdir's Orbax checkpoint manager.
      log: the workdir's ``metrics.jsonl`` and TensorBoard events.
      bar: the progress bar, at ``start_step``.
    """

    state: Any
    start_step: int
    rng_train: jax.Array
    manager: ocp.CheckpointManager
    log: MetricsLog
    bar: tqdm.tqdm


@contextlib.contextmanager
def start_run(
    config: ml_collections.ConfigDict,
    workdir: str,
    exp: Any,
    init: Callable[[Any, jax.Array], Any],
    *,
    desc: str,
    progress: bool,
) -> Iterator[RunStart]:
    """Set up a workdir for training and close it afterwards.

    Shared by the generic and the episodic loop: creates ``workdir``, saves
    the config, splits ``key(config.seed)`` into the init and training keys,
    builds ``init(exp, rng_init)`` and restores the latest checkpoint into it,
    opens the metrics log and the progress bar. On a normal exit it waits for
    pending checkpoint writes; on any exit it closes the bar, the log and the
    checkpoint manager.
    """
    os.makedirs(workdir, exist_ok=True)
    save_config(config, workdir)
    rng_init, rng_train = jax.random.split(jax.random.key(config.seed))
    manager = make_checkpoint_manager(workdir)
    log = bar = None
    try:
        state, start_step = resume_or_init(manager, init(exp, rng_init), workdir)
        log = MetricsLog(workdir, start_step)
        bar = tqdm.tqdm(
            total=config.train.total_steps,
            initial=start_step,
            disable=not progress,
            dynamic_ncols=True,
            desc=desc,
            mininterval=1.0,
        )
        yield RunStart(state, start_step, rng_train, manager, log, bar)
        manager.wait_until_finished()
    finally:
        if bar is not None:
            bar.close()
        if log is not None:
            log.close()
        manager.close()


def write_json_atomic(path: str, obj: Any) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=2, sort_keys=True, default=_json_default)
    os.replace(tmp, path)


def _json_default(x: Any) -> Any:
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, float) and math.isnan(x):
        return None
    raise TypeError(f"not JSON serialisable: {type(x)}")


def resume_or_init(
    manager: ocp.CheckpointManager, state: Any, workdir: str
) -> tuple[Any, int]:
    """``(state, start_step)``: the latest checkpoint restored into ``state``'s
    structure (announced on stdout), or ``state`` itself when there is none."""
    restored = restore_latest(manager, state)
    if restored is not None:
        state = restored
    start_step = int(state.step)
    if start_step:
        print(f"Resuming from checkpoint at step {start_step} in {workdir}")
    return state, start_step


def restore_workdir(
    workdir: str,
    build: Callable[[ml_collections.ConfigDict], Any],
    init: Callable[[Any, jax.Array], Any],
) -> tuple[Any, Any]:
    """``(experiment, state)`` of a workdir: its saved config rebuilt by
    ``build``, and its latest checkpoint restored into the template
    ``init(experiment, key(seed))`` (the generic and the episodic loop share this).
    """
    path = os.path.join(workdir, "config.json")
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path} not found: is {workdir} a jaxssl workdir?")
    with open(path) as f:
        config = ml_collections.ConfigDict(json.load(f))
    exp = build(config)
    template = init(exp, jax.random.key(config.seed))
    manager = make_checkpoint_manager(workdir)
    try:
        state = restore_latest(manager, template)
    finally:
        manager.close()
    if state is None:
        raise FileNotFoundError(f"no checkpoint in {workdir}/checkpoints")
    return exp, state


def restore_run(workdir: str) -> tuple[Experiment, TrainState]:
    """Rebuild a workdir's experiment from its config and restore its latest state."""
    return restore_workdir(workdir, build_experiment, init_state)


def evaluate_checkpoint(workdir: str) -> dict[str, float]:
    """Re-evaluate the latest checkpoint of a finished or running workdir."""
    exp, state = restore_run(workdir)
    results = evaluate(
        exp,
        state.params,
        state.extra,
        full=True,
        raw_baseline=raw_pixel_baseline(exp),
    )
    results["step"] = int(state.step)
    write_json_atomic(os.path.join(workdir, "eval.json"), results)
    return results
