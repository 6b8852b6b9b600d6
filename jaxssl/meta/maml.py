"""MAML-family inner loops: MAML (second and first order), Meta-SGD and ANIL.

The inner loop is a pure function of arrays and pytrees, so the meta-gradient
is ``jax.grad`` through it and a batch of tasks is ``jax.vmap`` over it:

>>> def loss_fn(params, batch):
...     x, y = batch
...     return jnp.mean(jnp.square(x @ params["w"] + params["b"] - y))
>>> meta_grads = jax.grad(maml_loss, argnums=1)(
...     loss_fn, params, tasks, 0.01, 5)  # doctest: +SKIP

Three variants share one loop (:func:`maml_adapt`):

- MAML: ``inner_lr`` is a scalar; ``first_order=True`` stops gradients through
  the inner gradients (FOMAML).
- Meta-SGD: ``inner_lr`` is a pytree shaped like ``params`` (one learned rate
  per parameter); :func:`meta_sgd_init`, :func:`meta_sgd_adapt` and
  :func:`meta_sgd_loss` keep the rates and the initialisation in one pytree
  so that one Optax optimizer trains both.
- ANIL: ``trainable`` selects the leaves the inner loop adapts (the head);
  the others keep their meta-learned values, and the inner loop never computes
  their gradients.

Models with batch norm are not handled specially: use models without norm
layers (or normalise with the statistics of the batch itself, which is the
transductive setting of the MAML paper).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp

Params = Any
Batch = Any
LossFn = Callable[[Params, Batch], jax.Array]
# A pytree of Python bools like ``params``, or a predicate on a leaf's path
# (a tuple of dict keys, attribute names and sequence indices).
Trainable = Params | Callable[[tuple[Any, ...]], bool] | None


def _path_entry(entry: Any) -> Any:
    for attr in ("key", "name", "idx"):
        if hasattr(entry, attr):
            return getattr(entry, attr)
    return str(entry)


def _trainable_flags(params: Params, trainable: Trainable) -> list[bool]:
    """One static Python bool per leaf of ``params``: adapt it or not."""
    path_leaves, treedef = jax.tree.flatten_with_path(params)
    if trainable is None:
        return [True] * len(path_leaves)
    if callable(trainable):
        flags = [
            trainable(tuple(_path_entry(e) for e in path)) for path, _ in path_leaves
        ]
    else:
        flag_leaves, flag_def = jax.tree.flatten(trainable)
        if flag_def != treedef:
            raise ValueError(
                "trainable: the mask's tree structure must match params; got "
                f"{flag_def} for params {treedef}"
            )
        flags = flag_leaves
    if not all(isinstance(flag, bool) for flag in flags):
        raise ValueError(
            "trainable: mask leaves (or predicate results) must be Python bools "
            "(static), got "
            f"{sorted({type(flag).__name__ for flag in flags})}"
        )
    if not any(flags):
        raise ValueError("trainable: selects no leaf of params; nothing to adapt")
    return flags


def _check_steps(num_steps: int) -> None:
    if isinstance(num_steps, bool) or not isinstance(num_steps, int):
        raise ValueError(
            f"num_steps must be a Python int (static), got {type(num_steps).__name__}"
        )
    if num_steps < 0:
        raise ValueError(f"num_steps must be >= 0, got {num_steps}")


def _inner_lr_leaves(
    inner_lr: float | jax.Array | Params, params: Params, flags: list[bool]
) -> list[Any]:
    """The learning rate of each trainable leaf (scalar, or shaped like it)."""
    param_leaves, treedef = jax.tree.flatten(params)
    if isinstance(inner_lr, int | float) or (
        hasattr(inner_lr, "shape") and jnp.ndim(inner_lr) == 0
    ):
        return [inner_lr for flag in flags if flag]
    lr_leaves, lr_def = jax.tree.flatten(inner_lr)
    if lr_def != treedef:
        raise ValueError(
            "inner_lr: must be a scalar or a pytree shaped like params (Meta-SGD); "
            f"got tree structure {lr_def} for params {treedef}"
        )
    rates = []
    for i, (lr, leaf, flag) in enumerate(
        zip(lr_leaves, param_leaves, flags, strict=True)
    ):
        if not flag:
            continue
        if jnp.shape(lr) not in ((), jnp.shape(leaf)):
            raise ValueError(
                f"inner_lr: leaf {i} has shape {jnp.shape(lr)}; allowed: () or the "
                f"parameter's shape {jnp.shape(leaf)}"
            )
        rates.append(lr)
    return rates


def maml_adapt(
    loss_fn: LossFn,
    params: Params,
    support: Batch,
    inner_lr: float | jax.Array | Params,
    num_steps: int,
    first_order: bool = False,
    *,
    trainable: Trainable = None,
) -> Params:
    """Adapt ``params`` to one task by ``num_steps`` gradient steps on ``support``.

    ``params_{t+1} = params_t - inner_lr * grad(loss_fn)(params_t, support)``,
    run as a ``jax.lax.scan``. Differentiating the result with respect to
    ``params`` (and ``inner_lr``) gives the second-order MAML meta-gradient:
    the inner gradients are themselves differentiated. With
    ``first_order=True`` they pass through ``jax.lax.stop_gradient``, so the
    Jacobian of the adapted parameters with respect to ``params`` is the
    identity (first-order MAML). ``inner_lr`` still receives a gradient then.

    Args:
      loss_fn: ``loss_fn(params, batch) -> scalar``, pure.
      params: the initial parameters (any pytree of float arrays).
      support: the task's training batch, whatever ``loss_fn`` takes.
      inner_lr: step size: a scalar (MAML), or a pytree with the structure of
        ``params`` whose leaves are scalars or shaped like the matching
        parameter (Meta-SGD's per-parameter rates).
      num_steps: number of inner steps, a Python int >= 0 (static).
      first_order: stop gradients through the inner gradients.
      trainable: which leaves to adapt (ANIL adapts only the head): ``None``
        for all, a pytree of Python bools with the structure of ``params``, or
        a predicate ``trainable(path) -> bool`` on a leaf's path (a tuple of
        dict keys / attribute names / indices, e.g.
        ``("params", "head", "kernel")``). Other leaves are returned unchanged
        and their inner gradients are never computed.

    Returns:
      The adapted parameters, same structure, shapes and dtypes as ``params``.

    Raises:
      ValueError: for a non-int or negative ``num_steps``, an ``inner_lr`` or
        ``trainable`` that does not match ``params``.

    References:
      Finn, Abbeel & Levine, "Model-Agnostic Meta-Learning for Fast Adaptation
      of Deep Networks" (2017), https://arxiv.org/abs/1703.03400
      Li, Zhou, Chen & Li, "Meta-SGD: Learning to Learn Quickly for Few-Shot
      Learning" (2017), https://arxiv.org/abs/1707.09835
      Raghu, Raghu, Bengio & Vinyals, "Rapid Learning or Feature Reuse?
      Towards Understanding the Effectiveness of MAML" (ANIL, 2019),
      https://arxiv.org/abs/1909.09157
    """
    _check_steps(num_steps)
    flags = _trainable_flags(params, trainable)
    rates = _inner_lr_leaves(inner_lr, params, flags)
    leaves, treedef = jax.tree.flatten(params)
    frozen = [leaf for leaf, flag in zip(leaves, flags, strict=True) if not flag]
    adapted = [leaf for leaf, flag in zip(leaves, flags, strict=True) if flag]

    def merge(adapted_leaves):
        adapted_iter, frozen_iter = iter(adapted_leaves), iter(frozen)
        merged = [next(adapted_iter if f else frozen_iter) for f in flags]
        return jax.tree.unflatten(treedef, merged)

    def inner_loss(adapted_leaves):
        return loss_fn(merge(adapted_leaves), support)

    def step(adapted_leaves, _):
        grads = jax.grad(inner_loss)(adapted_leaves)
        if first_order:
            grads = jax.lax.stop_gradient(grads)
        new = [
            (leaf - lr * grad).astype(leaf.dtype)
            for leaf, lr, grad in zip(adapted_leaves, rates, grads, strict=True)
        ]
        return new, None

    adapted, _ = jax.lax.scan(step, adapted, length=num_steps)
    return merge(adapted)


def _check_tasks(tasks: Mapping[str, Batch]) -> int:
    """Validate ``tasks`` and return the number of tasks (its leading axis)."""
    if not isinstance(tasks, Mapping) or not {"support", "query"} <= set(tasks):
        keys = sorted(tasks) if isinstance(tasks, Mapping) else type(tasks).__name__
        raise ValueError(
            f"tasks must be a mapping with keys 'support' and 'query', got {keys}"
        )
    sizes = set()
    for key in ("support", "query"):
        leaves = jax.tree.leaves(tasks[key])
        if not leaves:
            raise ValueError(f"tasks[{key!r}] has no arrays")
        for leaf in leaves:
            if jnp.ndim(leaf) == 0:
                raise ValueError(
                    f"tasks[{key!r}] leaves need a leading task axis, got a scalar"
                )
            sizes.add(jnp.shape(leaf)[0])
    if len(sizes) != 1:
        raise ValueError(
            f"tasks: leaves disagree on the leading task axis: sizes {sorted(sizes)}"
        )
    return sizes.pop()


def maml_loss(
    loss_fn: LossFn,
    params: Params,
    tasks: Mapping[str, Batch],
    inner_lr: float | jax.Array | Params,
    num_steps: int,
    first_order: bool = False,
    *,
    trainable: Trainable = None,
) -> jax.Array:
    """Mean post-adaptation query loss over a batch of tasks (the MAML objective).

    For each task, adapt ``params`` on its support batch with
    :func:`maml_adapt` and evaluate ``loss_fn`` on its query batch; tasks are
    ``jax.vmap``-ped. ``jax.grad`` of this with respect to ``params`` (and
    ``inner_lr`` for Meta-SGD) is the meta-gradient.

    Args:
      loss_fn: ``loss_fn(params, batch) -> scalar``, pure.
      params: the meta-learned initial parameters.
      tasks: ``{"support": batch, "query": batch}`` whose leaves all have a
        leading task axis ``[T, ...]``; each batch without it is what
        ``loss_fn`` takes.
      inner_lr: scalar or per-parameter pytree, see :func:`maml_adapt`.
      num_steps: inner steps (Python int >= 0).
      first_order: stop gradients through the inner gradients.
      trainable: leaves adapted in the inner loop, see :func:`maml_adapt`.

    Returns:
      Scalar mean over tasks of the query loss after adaptation.

    Raises:
      ValueError: if ``tasks`` lacks ``"support"``/``"query"`` or its leaves
        disagree on the task axis, and as :func:`maml_adapt`.

    References:
      Finn, Abbeel & Levine (2017), https://arxiv.org/abs/1703.03400
    """
    _check_tasks(tasks)

    def task_loss(support, query):
        adapted = maml_adapt(
            loss_fn,
            params,
            support,
            inner_lr,
            num_steps,
            first_order,
            trainable=trainable,
        )
        return loss_fn(adapted, query)

    return jnp.mean(jax.vmap(task_loss)(tasks["support"], tasks["query"]))


def meta_sgd_init(params: Params, init_lr: float) -> dict[str, Params]:
    """Bundle ``params`` with per-parameter inner learning rates, all ``init_lr``.

    Args:
      params: initial model parameters.
      init_lr: starting value of every inner learning rate.

    Returns:
      ``{"params": params, "inner_lr": rates}`` where ``rates`` has the
      structure, shapes and dtypes of ``params``; train the whole dict.

    References:
      Li et al., "Meta-SGD" (2017), https://arxiv.org/abs/1707.09835
    """
    rates = jax.tree.map(lambda leaf: jnp.full_like(leaf, init_lr), params)
    return {"params": params, "inner_lr": rates}


def _check_meta_params(meta_params: Mapping[str, Params]) -> None:
    if not isinstance(meta_params, Mapping) or set(meta_params) != {
        "params",
        "inner_lr",
    }:
        keys = (
            sorted(meta_params)
            if isinstance(meta_params, Mapping)
            else type(meta_params).__name__
        )
        raise ValueError(
            f"meta_params must have keys 'inner_lr' and 'params' (meta_sgd_init), "
            f"got {keys}"
        )


def meta_sgd_adapt(
    loss_fn: LossFn,
    meta_params: Mapping[str, Params],
    support: Batch,
    num_steps: int = 1,
    first_order: bool = False,
    *,
    trainable: Trainable = None,
) -> Params:
    """Adapt with Meta-SGD: ``params - inner_lr * grad`` elementwise.

    Args:
      loss_fn: ``loss_fn(params, batch) -> scalar``.
      meta_params: ``{"params": ..., "inner_lr": ...}`` from
        :func:`meta_sgd_init` (rates shaped like the parameters).
      support: the task's training batch.
      num_steps: inner steps (the paper uses one).
      first_order: stop gradients through the inner gradients.
      trainable: leaves adapted in the inner loop, see :func:`maml_adapt`.

    Returns:
      Adapted parameters, structured like ``meta_params["params"]``.

    References:
      Li et al., "Meta-SGD" (2017), https://arxiv.org/abs/1707.09835
    """
    _check_meta_params(meta_params)
    return maml_adapt(
        loss_fn,
        meta_params["params"],
        support,
        meta_params["inner_lr"],
        num_steps,
        first_order,
        trainable=trainable,
    )


def meta_sgd_loss(
    loss_fn: LossFn,
    meta_params: Mapping[str, Params],
    tasks: Mapping[str, Batch],
    num_steps: int = 1,
    first_order: bool = False,
    *,
    trainable: Trainable = None,
) -> jax.Array:
    """Mean post-adaptation query loss with Meta-SGD's learned rates.

    ``jax.grad`` of this with respect to ``meta_params`` trains the
    initialisation and the per-parameter learning rates together.

    Args:
      loss_fn: ``loss_fn(params, batch) -> scalar``.
      meta_params: ``{"params": ..., "inner_lr": ...}`` (:func:`meta_sgd_init`).
      tasks: ``{"support": batch, "query": batch}`` with a leading task axis.
      num_steps: inner steps (the paper uses one).
      first_order: stop gradients through the inner gradients.
      trainable: leaves adapted in the inner loop, see :func:`maml_adapt`.

    Returns:
      Scalar mean query loss over tasks.

    References:
      Li et al., "Meta-SGD" (2017), https://arxiv.org/abs/1707.09835
    """
    _check_meta_params(meta_params)
    return maml_loss(
        loss_fn,
        meta_params["params"],
        tasks,
        meta_params["inner_lr"],
        num_steps,
        first_order,
        trainable=trainable,
    )
