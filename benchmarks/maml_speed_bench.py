"""Second-order MAML meta-steps/s: tasks vmapped vs a Python loop vs torch.func.

The MAML paper's Omniglot setting (Finn et al. 2017): conv4 (64 channels,
3x3 conv -> transductive batch norm -> ReLU -> 2x2 max-pool, four times) on
28x28x1 images + a linear 5-way head; 5-way 1-shot, 32 tasks per meta-batch,
5 inner SGD steps with inner lr 0.4, the second-order meta-gradient, Adam
(lr 1e-3) on it. Queries: 15 per class (75 per task), the usual few-shot test
convention; the paper's Omniglot code draws as many queries as shots, so this
is the heavier setting (``--query`` changes it). Batch norm uses the
statistics of the batch at hand (support and query sets are separate batches,
as in the paper's code). The data are random images in [0, 1] (fixed seed),
the same for every variant and every step: only speed is measured here.

Variants, each timed on the full meta-step (meta-gradient + Adam update):

- ``jax_vmap``: ``jaxssl.meta.maml_loss`` (tasks ``jax.vmap``-ped, inner loop
  in ``lax.scan``), meta-gradient and update in one jitted step.
- ``jax_python_loop``: a Python loop over tasks as a PyTorch user writes it:
  one jitted per-task meta-gradient, summed in the loop, then a jitted update.
- ``jax_lax_map``: ``jax.lax.map`` over tasks (a sequential loop inside one
  jitted step).
- ``torch_func``: the same model in PyTorch with ``torch.func``:
  ``functional_call`` + ``grad`` for the inner loop (nested ``grad`` gives the
  second-order terms, like ``create_graph=True``), ``vmap`` over tasks,
  ``torch.optim.Adam``.
- ``torch_loop``: plain PyTorch: a loop over tasks, ``autograd.grad`` with
  ``create_graph=True`` in the inner loop, ``backward()`` per task.

Before timing, every variant's first meta-gradient (from the same initial
weights, copied into the PyTorch model) is compared with ``jax_vmap``'s: the
relative error is printed and recorded. In float32 these differ by up to a
few percent at full size: lr 0.4 makes the inner loop's trajectory sensitive
to rounding (the support loss first rises, then falls), and second-order
terms amplify it. ``--float64`` checks against an exact reference instead
(JAX float64 op by op, see :func:`float64_check`): at full conv4 shapes with
2 tasks of 15 queries, PyTorch in float64 (both variants) matches it to
1.5e-13, and every float32 variant to 3e-4 (torch.func 2.7e-4, PyTorch loop
7e-5, JAX loop 3.7e-5, JAX vmap 4.4e-5).

On a GPU both frameworks default to TF32 matmuls/convs, and the first
meta-gradients then differ between variants by about 20% (H100; ``torch_loop``
with cuDNN's batch norm by 190%): the same lr-0.4 sensitivity as above, fed
10-bit mantissas. ``--precision highest`` (full float32 in both frameworks)
brings them to 0.17% (JAX loop and ``lax.map``), 0.6% (``torch_func``) and
0.06% (``torch_loop``) of ``jax_vmap``'s on the H100; the timings are taken
at the default precision, as users run.

``torch_func`` writes the transductive batch norm out (mean/var ops):
``torch.func.vmap`` over tasks of second-order gradients through the native
``F.batch_norm`` with per-task scale and offset is wrong (about 2% relative
error in float64, torch 2.13), while the task loop is right.

Memory: vmapping 32 tasks of second-order inner loops holds all their
intermediates at once. With 15 queries per class, ``torch_func`` took the
process to about 16 GB (then it was killed on a 24 GB machine shared with
other jobs); with 1 query per class, ``torch_func`` peaks near 9 GB and
``jax_vmap`` near 4 GB. The loop variants need little.

Timing is interleaved: after a
warm-up step each, every round runs one meta-step of each variant, in an
order rotated by one each round, so load from other processes on the shared
machine falls on all variants alike; a variant's figure is the median
seconds per step over the rounds, and the 1-minute load average is recorded
at every round.

Conv implementation (``--conv-impl``, DESIGN.md "Speed facts"): ``patches``
(shifted slices + one matmul) or ``lax`` (``lax.conv``). ``jax_vmap`` with
``lax`` is skipped unless named in ``--variants``: vmapping per-task kernels
turns each conv into a grouped conv, which XLA:CPU runs so slowly that one
meta-step did not finish in 4 minutes. PyTorch always uses its own conv.

Run (records to benchmarks/results/speed.jsonl):
  nice -n 10 python -m benchmarks.maml_speed_bench
  nice -n 10 python -m benchmarks.maml_speed_bench --conv-impl lax --steps 3

The recorded runs (2-core CPU shared with other jobs, load 10-16): 15
queries per class for the JAX vmap vs loop comparison, and the paper code's
1 query per class for all variants (``torch_func`` fits in memory there):
  python -m benchmarks.maml_speed_bench --steps 2 \
      --variants jax_vmap,jax_python_loop
  python -m benchmarks.maml_speed_bench --query 1 --steps 3 \
      --variants jax_vmap,jax_python_loop,jax_lax_map,torch_func
  python -m benchmarks.maml_speed_bench --query 1 --steps 2 \
      --variants jax_python_loop,torch_loop
  python -m benchmarks.maml_speed_bench --query 1 --steps 2 --conv-impl lax \
      --variants jax_python_loop,jax_lax_map

On a GPU (PyTorch on CUDA too; recorded on an H100):
  python -m benchmarks.maml_speed_bench --conv-impl lax --steps 10 \
      --variants jax_vmap,jax_python_loop,jax_lax_map,torch_func,torch_loop
  python -m benchmarks.maml_speed_bench --conv-impl patches --steps 10 \
      --variants jax_vmap,jax_python_loop
  python -m benchmarks.maml_speed_bench --conv-impl lax --steps 2 --no-record \
      --precision highest  # the gradient agreement check

Gradient check against float64 (minutes; records nothing):
  python -m benchmarks.maml_speed_bench --float64 --tasks 2

Smoke test with tiny shapes, no record:
  python -m benchmarks.maml_speed_bench --quick --no-record

PyTorch is optional (not a jaxssl dependency): without it the torch variants
are skipped with a message.
"""

from __future__ import annotations

import argparse
import ctypes
import dataclasses
import functools
import gc
import os
import resource
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from benchmarks.record import append_record
from jaxssl.meta import maml_adapt, maml_loss
from jaxssl.models import Conv4

JAX_VARIANTS = ("jax_vmap", "jax_python_loop", "jax_lax_map")
TORCH_VARIANTS = ("torch_func", "torch_loop")
VARIANTS = JAX_VARIANTS + TORCH_VARIANTS
CONV_IMPLS = ("patches", "lax")


@dataclasses.dataclass(frozen=True)
class Setting:
    """Shapes and hyperparameters of one benchmark run."""

    way: int = 5
    shot: int = 1
    query: int = 15  # per class
    tasks: int = 32
    inner_steps: int = 5
    inner_lr: float = 0.4
    meta_lr: float = 1e-3
    features: int = 64
    image_size: int = 28
    conv_impl: str = "patches"
    num_blocks: int = 4  # conv blocks (4: conv4; fewer only for fast tests)
    dtype: str = "float32"  # "float64" (with jax_enable_x64) to check gradients

    def describe(self) -> str:
        return (
            f"conv4 ({self.features} ch, transductive BN, {self.conv_impl} conv in "
            f"JAX) + linear head on {self.image_size}x{self.image_size}x1; "
            f"{self.way}-way {self.shot}-shot, {self.query} queries per class, "
            f"{self.tasks} tasks per meta-batch, {self.inner_steps} inner SGD "
            f"steps (lr {self.inner_lr}), second order, Adam lr {self.meta_lr}"
        )


QUICK = Setting(query=2, tasks=3, inner_steps=2, features=8, image_size=16)


def make_tasks(setting: Setting, seed: int = 0) -> dict[str, dict[str, np.ndarray]]:
    """Random tasks: images in [0, 1] ``[T, n, H, W, 1]``, labels ``[T, n]``."""
    rng = np.random.default_rng(seed)
    size = setting.image_size

    def batch(per_class):
        n = setting.way * per_class
        images = rng.random((setting.tasks, n, size, size, 1)).astype(setting.dtype)
        labels = np.tile(
            np.repeat(np.arange(setting.way), per_class), (setting.tasks, 1)
        )
        return {"x": images, "y": labels.astype(np.int32)}

    return {"support": batch(setting.shot), "query": batch(setting.query)}


# ------------------------------------------------------------------------ JAX


class MamlConv4:
    """conv4 body + linear head as two Flax modules on one params dict."""

    def __init__(self, setting: Setting):
        self.body = Conv4(
            features=setting.features,
            norm="transductive",
            conv_impl=setting.conv_impl,
            num_blocks=setting.num_blocks,
        )
        self.head = nn.Dense(setting.way)
        self.image_size = setting.image_size

    def init(self, rng: jax.Array) -> dict[str, Any]:
        images = jnp.zeros((2, self.image_size, self.image_size, 1))
        rng_body, rng_head = jax.random.split(rng)
        body = self.body.init(rng_body, images)["params"]
        features = self.body.apply({"params": body}, images)
        head = self.head.init(rng_head, features)["params"]
        return {"body": body, "head": head}

    def loss(self, params, batch) -> jax.Array:
        """Mean cross-entropy of one batch ``{"x": [n, H, W, 1], "y": [n]}``."""
        features = self.body.apply({"params": params["body"]}, batch["x"])
        logits = self.head.apply({"params": params["head"]}, features)
        return optax.softmax_cross_entropy_with_integer_labels(
            logits, batch["y"]
        ).mean()


def _task_loss(net: MamlConv4, setting: Setting, params, support, query):
    adapted = maml_adapt(
        net.loss, params, support, setting.inner_lr, setting.inner_steps
    )
    return net.loss(adapted, query)


# A meta-step maps (state, tasks) -> (state, loss, grads); ``grads`` (the mean
# meta-gradient) are returned for the correctness check.
StepFn = Callable[[Any, Any], tuple[Any, jax.Array, Any]]


def make_jax_step(
    variant: str, net: MamlConv4, setting: Setting, tx: optax.GradientTransformation
) -> Callable[[Any, Any], tuple[StepFn, float]]:
    """Return ``compile(example_state, tasks) -> (step, compile_s)`` for a variant.

    ``state`` is ``(params, opt_state)``; ``tasks`` is the whole meta-batch
    on the device (a list of per-task dicts for ``jax_python_loop``).
    """
    task_loss = functools.partial(_task_loss, net, setting)

    def update(state, grads):
        params, opt_state = state
        updates, opt_state = tx.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state)

    if variant in ("jax_vmap", "jax_lax_map"):
        if variant == "jax_vmap":

            def objective(params, tasks):
                return maml_loss(
                    net.loss, params, tasks, setting.inner_lr, setting.inner_steps
                )

        else:

            def objective(params, tasks):
                losses = jax.lax.map(
                    lambda task: task_loss(params, task["support"], task["query"]),
                    tasks,
                )
                return losses.mean()

        def step(state, tasks):
            loss, grads = jax.value_and_grad(objective)(state[0], tasks)
            return update(state, grads), loss, grads

        def compile_fn(state, tasks):
            start = time.perf_counter()
            compiled = jax.jit(step, donate_argnums=(0,)).lower(state, tasks).compile()
            return compiled, time.perf_counter() - start

        return compile_fn

    if variant != "jax_python_loop":
        raise ValueError(f"variant={variant!r} is not one of: {JAX_VARIANTS}")

    def task_grad(params, task):
        return jax.value_and_grad(task_loss)(params, task["support"], task["query"])

    def mean_update(state, grad_sum, num_tasks):
        grads = jax.tree.map(lambda g: g / num_tasks, grad_sum)
        return update(state, grads), grads

    def compile_fn(state, tasks):
        start = time.perf_counter()
        grad_fn = jax.jit(task_grad).lower(state[0], tasks[0]).compile()
        zeros = jax.tree.map(jnp.zeros_like, state[0])
        update_fn = (
            jax.jit(mean_update, donate_argnums=(0,))
            .lower(state, zeros, jnp.float32(len(tasks)))
            .compile()
        )
        compile_s = time.perf_counter() - start
        num_tasks = jnp.float32(len(tasks))

        def step(state, tasks):
            loss_sum, grad_sum = 0.0, None
            for task in tasks:
                loss, grads = grad_fn(state[0], task)
                loss_sum = loss_sum + loss
                grad_sum = (
                    grads
                    if grad_sum is None
                    else jax.tree.map(jnp.add, grad_sum, grads)
                )
            state, grads = update_fn(state, grad_sum, num_tasks)
            return state, loss_sum / len(tasks), grads

        return step, compile_s

    return compile_fn


def jax_tasks(variant: str, tasks: dict) -> Any:
    """The meta-batch on the device, split into a list of tasks for the loop."""
    tasks = jax.device_put(tasks)
    if variant == "jax_python_loop":
        num_tasks = tasks["support"]["y"].shape[0]
        return [jax.tree.map(lambda x, i=i: x[i], tasks) for i in range(num_tasks)]
    return tasks


# -------------------------------------------------------------------- PyTorch


def torch_available() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def torch_device() -> str:
    """``"cuda"`` where PyTorch sees a GPU, else ``"cpu"``."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _torch_sync() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


def make_torch_model(setting: Setting, jax_params, *, native_bn: bool = True):
    """The same conv4 + head in PyTorch, with ``jax_params`` copied in.

    ``native_bn``: ``nn.BatchNorm2d(track_running_stats=False)``, else the
    same norm written with mean/var ops (as ``jaxssl.models.TransductiveNorm``
    is). Under ``torch.func.vmap`` over tasks, second-order gradients through
    the native batch norm with per-task (adapted) scale and offset are wrong
    (about 2% relative error in float64 on conv4, torch 2.13; the loop and
    ``autograd.grad`` are right), so ``torch_func`` uses the written-out norm.
    """
    import torch
    from torch import nn as tnn
    from torch.nn import functional as F

    class TransductiveNorm(tnn.Module):
        """Batch norm from the batch's own statistics, written out (see below)."""

        def __init__(self, channels):
            super().__init__()
            self.weight = tnn.Parameter(torch.ones(channels))
            self.bias = tnn.Parameter(torch.zeros(channels))

        def forward(self, x):
            mean = x.mean((0, 2, 3), keepdim=True)
            var = (x - mean).square().mean((0, 2, 3), keepdim=True)
            y = (x - mean) * torch.rsqrt(var + 1e-5)
            return y * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)

    class TorchConv4(tnn.Module):
        def __init__(self):
            super().__init__()
            self.convs = tnn.ModuleList()
            self.norms = tnn.ModuleList()
            channels, size = 1, setting.image_size
            for _ in range(setting.num_blocks):
                self.convs.append(
                    tnn.Conv2d(channels, setting.features, 3, padding=1, bias=False)
                )
                # Transductive BN: the batch's statistics, no running averages.
                self.norms.append(
                    tnn.BatchNorm2d(setting.features, track_running_stats=False)
                    if native_bn
                    else TransductiveNorm(setting.features)
                )
                channels, size = setting.features, size // 2
            self.head = tnn.Linear(setting.features * size * size, setting.way)

        def forward(self, x):  # x: [n, 1, H, W]
            for conv, norm in zip(self.convs, self.norms, strict=True):
                x = F.max_pool2d(F.relu(norm(conv(x))), 2)
            # NHWC flatten order, as in JAX (the same for a 1x1 last map).
            return self.head(x.permute(0, 2, 3, 1).flatten(1))

    model = TorchConv4().to(getattr(torch, setting.dtype)).to(torch_device())
    with torch.no_grad():
        for name, param in model.named_parameters():
            param.copy_(torch.from_numpy(np.array(_jax_leaf_for(name, jax_params))))
    return model


def _jax_leaf_for(torch_name: str, jax_params):
    """The JAX array (in PyTorch's layout) matching a PyTorch parameter name."""
    kind, *rest = torch_name.split(".")
    if kind == "head":
        dense = jax_params["head"]
        return dense["kernel"].T if rest[0] == "weight" else dense["bias"]
    index, attr = int(rest[0]), rest[1]
    body = jax_params["body"]
    if kind == "convs":
        return jnp.transpose(body[f"Conv_{index}"]["kernel"], (3, 2, 0, 1))  # OIHW
    norm = body[f"TransductiveNorm_{index}"]
    return norm["scale"] if attr == "weight" else norm["bias"]


def torch_grads_as_jax(grads: dict, jax_params):
    """PyTorch gradients (by parameter name) laid out as the JAX params tree."""
    out = jax.tree.map(lambda x: None, jax_params)
    for name, grad in grads.items():
        array = grad.detach().cpu().numpy()
        kind, *rest = name.split(".")
        if kind == "head":
            key = "kernel" if rest[0] == "weight" else "bias"
            out["head"][key] = array.T if key == "kernel" else array
        elif kind == "convs":
            out["body"][f"Conv_{rest[0]}"]["kernel"] = np.transpose(array, (2, 3, 1, 0))
        else:
            key = "scale" if rest[1] == "weight" else "bias"
            out["body"][f"TransductiveNorm_{rest[0]}"][key] = array
    return out


def make_torch_step(variant: str, setting: Setting, jax_params, tasks: dict):
    """Return ``step() -> (loss, grads by name)`` for a PyTorch variant.

    The model, its Adam state and the tasks (NCHW tensors) live in the closure.
    """
    import torch
    from torch.func import functional_call, grad, vmap
    from torch.nn import functional as F

    model = make_torch_model(setting, jax_params, native_bn=variant != "torch_func")
    opt = torch.optim.Adam(model.parameters(), lr=setting.meta_lr)

    def to_torch(batch):
        x = torch.from_numpy(np.ascontiguousarray(batch["x"].transpose(0, 1, 4, 2, 3)))
        y = torch.from_numpy(batch["y"].astype(np.int64))
        return x.to(torch_device()), y.to(torch_device())

    sx, sy = to_torch(tasks["support"])  # [T, n, 1, H, W], [T, n]
    qx, qy = to_torch(tasks["query"])
    num_tasks = sx.shape[0]

    def loss_fn(params, x, y):
        return F.cross_entropy(functional_call(model, params, (x,)), y)

    def apply_grads(grads):
        for name, param in model.named_parameters():
            param.grad = grads[name]
        opt.step()

    if variant == "torch_func":

        def task_loss(params, sx, sy, qx, qy):
            for _ in range(setting.inner_steps):
                grads = grad(loss_fn)(params, sx, sy)
                params = {k: params[k] - setting.inner_lr * grads[k] for k in params}
            return loss_fn(params, qx, qy)

        def meta_loss(params):
            losses = vmap(task_loss, in_dims=(None, 0, 0, 0, 0))(params, sx, sy, qx, qy)
            return losses.mean(), losses.mean()

        meta_grad = grad(meta_loss, has_aux=True)

        def step():
            params = {k: v.detach() for k, v in model.named_parameters()}
            grads, loss = meta_grad(params)
            apply_grads(grads)
            _torch_sync()
            return loss.detach(), grads

        return step

    if variant != "torch_loop":
        raise ValueError(f"variant={variant!r} is not one of: {TORCH_VARIANTS}")

    def step():
        opt.zero_grad()
        loss_sum = 0.0
        for t in range(num_tasks):
            fast = dict(model.named_parameters())
            for _ in range(setting.inner_steps):
                loss = loss_fn(fast, sx[t], sy[t])
                grads = torch.autograd.grad(
                    loss, list(fast.values()), create_graph=True
                )
                fast = {
                    k: w - setting.inner_lr * g
                    for (k, w), g in zip(fast.items(), grads, strict=True)
                }
            query_loss = loss_fn(fast, qx[t], qy[t]) / num_tasks
            query_loss.backward()
            loss_sum += query_loss.item()
        grads = {k: v.grad.detach().clone() for k, v in model.named_parameters()}
        opt.step()
        _torch_sync()
        return loss_sum, grads

    return step


# ------------------------------------------------------------------ harness


def relative_error(grads, reference, *, per_leaf: bool = False) -> float:
    """``|g - ref| / |ref|`` over all parameters (Frobenius norms).

    With ``per_leaf``, the largest such ratio over the leaves instead.
    """

    def error(g, r):
        g, r = np.asarray(g, np.float64), np.asarray(r, np.float64)
        return float(np.linalg.norm(g - r) / max(np.linalg.norm(r), 1e-30))

    if per_leaf:
        return max(jax.tree.leaves(jax.tree.map(error, grads, reference)))
    flat = [np.ravel(x) for x in jax.tree.leaves(grads)]
    flat_ref = [np.ravel(x) for x in jax.tree.leaves(reference)]
    return error(np.concatenate(flat), np.concatenate(flat_ref))


def release_memory() -> None:
    """Hand freed heap memory back to the OS (glibc keeps it otherwise).

    The vmapped variants peak at several GB; without this the process keeps
    each variant's peak and the sum of them on a shared machine.
    """
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


@dataclasses.dataclass
class Runner:
    """One variant: a no-argument meta-step and what its warm-up measured."""

    name: str
    run_step: Callable[[], Any]
    first_grads: Any
    compile_s: float | None
    first_step_s: float
    times: list[float] = dataclasses.field(default_factory=list)
    loads: list[float] = dataclasses.field(default_factory=list)


def build_runner(variant: str, setting: Setting, params, tasks: dict) -> Runner:
    """Compile (JAX) and warm up one variant; its first meta-gradient is kept."""
    if variant in JAX_VARIANTS:
        net = MamlConv4(setting)
        tx = optax.adam(setting.meta_lr)
        device_tasks = jax_tasks(variant, tasks)
        state = (jax.tree.map(jnp.array, params), tx.init(params))
        step, compile_s = make_jax_step(variant, net, setting, tx)(state, device_tasks)
        start = time.perf_counter()
        state, _, grads = jax.block_until_ready(step(state, device_tasks))
        first_step_s = time.perf_counter() - start
        box = [state]

        def run_step():
            box[0], loss, _ = step(box[0], device_tasks)
            return jax.block_until_ready((box[0], loss))[1]

        return Runner(variant, run_step, jax.device_get(grads), compile_s, first_step_s)
    if variant in TORCH_VARIANTS:
        step = make_torch_step(variant, setting, params, tasks)
        start = time.perf_counter()
        _, grads = step()
        first_step_s = time.perf_counter() - start
        jax_layout = torch_grads_as_jax(grads, params)
        return Runner(variant, lambda: step()[0], jax_layout, None, first_step_s)
    raise ValueError(f"variant={variant!r} is not one of: {VARIANTS}")


def float64_check(setting: Setting, variants: list[str], seed: int = 0) -> dict:
    """Meta-gradients of float32 variants against an exact float64 reference.

    The reference is JAX in float64 run op by op (``jax.disable_jit``): a loop
    over tasks of ``jax.grad`` through ``maml_adapt``. Jitted, the same
    float64 computation gave NaN meta-gradients on XLA:CPU (jax 0.10.2) while
    op by op it is finite, so the reference is not jitted. The PyTorch
    variants are run in float64 too. Needs ``jax_enable_x64``; slow (minutes
    for 2 tasks).

    Returns:
      ``{name: relative error}`` for every variant in float32 and, for the
      PyTorch ones, in float64.
    """
    s64 = dataclasses.replace(setting, dtype="float64")
    s32 = dataclasses.replace(setting, dtype="float32")
    params32 = jax.device_get(MamlConv4(s32).init(jax.random.key(seed)))
    params32 = jax.tree.map(lambda x: np.asarray(x, np.float32), params32)
    params64 = jax.tree.map(lambda x: x.astype(np.float64), params32)
    tasks32, tasks64 = make_tasks(s32, seed), make_tasks(s64, seed)
    net = MamlConv4(s64)

    def meta_loss(params):
        losses = [
            _task_loss(
                net,
                s64,
                params,
                jax.tree.map(lambda x, i=i: x[i], tasks64["support"]),
                jax.tree.map(lambda x, i=i: x[i], tasks64["query"]),
            )
            for i in range(setting.tasks)
        ]
        return sum(losses) / setting.tasks

    with jax.disable_jit():
        reference = jax.device_get(jax.grad(meta_loss)(params64))
    errors = {}
    for variant in variants:
        runs = [(s32, params32, tasks32)]
        if variant in TORCH_VARIANTS:
            runs.append((s64, params64, tasks64))
        for config, params, tasks in runs:
            grads = build_runner(variant, config, params, tasks).first_grads
            name = f"{variant} {config.dtype}"
            errors[name] = relative_error(grads, reference)
            print(
                f"{name:>24s}: meta-gradient rel. error vs float64: {errors[name]:.2e}"
            )
            release_memory()
    return errors


def run(setting: Setting, variants: list[str], rounds: int, seed: int = 0):
    """Build every variant, check gradients, time ``rounds`` interleaved rounds.

    Returns:
      ``(runners, errors)``: the runners with their per-step times and load
      averages, and each variant's relative meta-gradient error against the
      first variant's (``jax_vmap`` by default).
    """
    params = jax.device_get(MamlConv4(setting).init(jax.random.key(seed)))
    params = jax.tree.map(lambda x: x.astype(setting.dtype), params)
    tasks = make_tasks(setting, seed)
    runners = []
    for variant in variants:
        runner = build_runner(variant, setting, params, tasks)
        release_memory()
        compile_note = (
            f"compile {runner.compile_s:.1f} s, "
            if runner.compile_s is not None
            else ""
        )
        peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
        print(
            f"{variant:>16s}: {compile_note}first step {runner.first_step_s:.2f} s "
            f"(process peak RSS so far {peak_gb:.1f} GB)",
            flush=True,
        )
        runners.append(runner)
    reference = runners[0].first_grads
    errors = {r.name: relative_error(r.first_grads, reference) for r in runners}
    for runner in runners:
        worst = relative_error(runner.first_grads, reference, per_leaf=True)
        print(
            f"{runner.name:>16s}: meta-gradient rel. error vs {runners[0].name}: "
            f"{errors[runner.name]:.2e} (worst leaf {worst:.2e})"
        )
    for round_index in range(rounds):
        shift = round_index % len(runners)
        for runner in runners[shift:] + runners[:shift]:
            runner.loads.append(os.getloadavg()[0])
            start = time.perf_counter()
            runner.run_step()
            runner.times.append(time.perf_counter() - start)
            release_memory()
        summary = ", ".join(f"{r.name} {r.times[-1]:.2f}" for r in runners)
        print(f"round {round_index + 1}/{rounds} (s/step): {summary}", flush=True)
    return runners, errors


def _torch_info() -> dict[str, Any]:
    if not torch_available():
        return {}
    import torch

    info = {
        "torch_version": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "torch_device": torch_device(),
    }
    if torch.cuda.is_available():
        info["torch_device_name"] = torch.cuda.get_device_name()
    return info


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--conv-impl", default="patches", choices=CONV_IMPLS)
    parser.add_argument("--steps", type=int, default=5, help="timed rounds")
    parser.add_argument("--tasks", type=int, default=None)
    parser.add_argument("--query", type=int, default=None, help="per class")
    parser.add_argument("--quick", action="store_true", help="tiny shapes")
    parser.add_argument(
        "--float64",
        action="store_true",
        help="check meta-gradients against a float64 reference (no timing)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--precision",
        default="default",
        choices=("default", "highest"),
        help="highest: full float32 matmuls and convs in JAX and PyTorch (no "
        "TF32 on GPUs), for comparing meta-gradients",
    )
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args(argv)
    if args.precision == "highest":
        jax.config.update("jax_default_matmul_precision", "highest")
        if torch_available():
            import torch

            torch.backends.cuda.matmul.allow_tf32 = False
            torch.backends.cudnn.allow_tf32 = False

    setting = QUICK if args.quick else Setting()
    overrides = {"conv_impl": args.conv_impl}
    if args.tasks is not None:
        overrides["tasks"] = args.tasks
    if args.query is not None:
        overrides["query"] = args.query
    setting = dataclasses.replace(setting, **overrides)

    variants = args.variants.split(",")
    unknown = sorted(set(variants) - set(VARIANTS))
    if unknown:
        raise ValueError(f"--variants: {unknown} not among {VARIANTS}")
    on_cpu = jax.default_backend() == "cpu"
    if (
        "jax_vmap" in variants
        and setting.conv_impl == "lax"
        and on_cpu
        and not args.quick
    ):
        if args.variants == parser.get_default("variants"):
            print(
                "skipping jax_vmap with --conv-impl lax: vmapped per-task kernels "
                "become grouped convs that XLA:CPU runs extremely slowly (name it "
                "in --variants to run it anyway)"
            )
            variants.remove("jax_vmap")
    if not torch_available():
        skipped = [v for v in variants if v in TORCH_VARIANTS]
        if skipped:
            print(f"PyTorch is not installed: skipping {', '.join(skipped)}")
        variants = [v for v in variants if v not in TORCH_VARIANTS]
    if not variants:
        raise ValueError("--variants: nothing left to run")

    print(setting.describe(), flush=True)
    if args.float64:
        jax.config.update("jax_enable_x64", True)
        float64_check(setting, variants, args.seed)
        return
    runners, errors = run(setting, variants, args.steps, args.seed)
    peak_rss_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    command = " ".join(["python -m benchmarks.maml_speed_bench", *sys.argv[1:]])
    for runner in runners:
        if not runner.times:  # --steps 0: the gradient check only
            continue
        median = statistics.median(runner.times)
        print(
            f"{runner.name:>16s}: {1 / median:.3f} meta-steps/s (median "
            f"{median:.2f} s/step, min {min(runner.times):.2f}, load "
            f"{min(runner.loads):.2f}-{max(runner.loads):.2f})"
        )
        if args.no_record or args.quick:
            continue
        impl = "torch conv" if runner.name in TORCH_VARIANTS else setting.conv_impl
        append_record(
            "speed",
            method="maml_conv4_second_order",
            dataset=f"random {setting.image_size}x{setting.image_size}x1",
            setting=(
                f"{runner.name} ({impl}), {setting.way}-way {setting.shot}-shot "
                f"{setting.query}q, {setting.tasks} tasks, {setting.inner_steps} "
                "inner steps"
            ),
            metric="meta_steps_per_sec",
            value=round(1 / median, 4),
            wall_s=round(sum(runner.times), 2),
            steps=len(runner.times),
            s_per_step_median=round(median, 3),
            s_per_step=[round(t, 3) for t in runner.times],
            compile_s=None if runner.compile_s is None else round(runner.compile_s, 1),
            first_step_s=round(runner.first_step_s, 2),
            grad_rel_err_vs=(runners[0].name, float(f"{errors[runner.name]:.3g}")),
            load_avg_1m=[round(x, 2) for x in runner.loads],
            protocol=(
                "interleaved rounds (one meta-step of each of "
                f"{', '.join(r.name for r in runners)} per round, order rotated); "
                "value = 1 / median s per step after compile and one warm-up step"
            ),
            peak_rss_gb_process=round(peak_rss_gb, 2),
            precision=args.precision,
            config=setting.describe(),
            command=command,
            **_torch_info(),
        )


if __name__ == "__main__":
    main()
