"""A learned update rule: the meta-learner LSTM of Ravi & Larochelle (2017).

The inner loop's optimizer is itself a small network, applied to every
parameter coordinate independently with shared weights. Per coordinate and
step it reads the preprocessed gradient and loss, runs a standard LSTM
(hidden size ``H``), and feeds its output to the meta-learner cell, whose cell
state *is* the parameter:

    i_t = sigmoid(w_i . [h_t, theta_{t-1}, i_{t-1}] + b_i)   # learning rate
    f_t = sigmoid(w_f . [h_t, theta_{t-1}, f_{t-1}] + b_f)   # shrinkage
    theta_t = f_t * theta_{t-1} - i_t * grad_t

With zero weights and ``f_t -> 1`` this is gradient descent with rate
``sigmoid(b_i)``, which is how it is initialised. The learner's initial
parameters are meta-learned with it. Everything is a pure function; the
inner loop is a ``jax.lax.scan`` and tasks are ``jax.vmap``-ped, as in
:mod:`jaxssl.meta.maml`.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

from jaxssl.meta.maml import _check_steps, _check_tasks

Params = Any
Batch = Any

_PREPROCESS_P = 10.0


def preprocess(x: jax.Array, p: float = _PREPROCESS_P) -> jax.Array:
    """Map values of any scale to two features of order one.

    ``(log|x| / p, sign(x))`` if ``|x| >= exp(-p)``, else ``(-1, exp(p) x)``
    (Andrychowicz et al. 2016, appendix A), so the LSTM sees gradients and
    losses whose magnitudes span many orders.

    Args:
      x: array of any shape.
      p: the scale parameter (10 in both papers).

    Returns:
      ``[..., 2]`` float array.

    References:
      Andrychowicz et al., "Learning to learn by gradient descent by gradient
      descent" (2016), https://arxiv.org/abs/1606.04474
    """
    x = jnp.asarray(x)
    big = jnp.abs(x) >= math.exp(-p)
    # Keep log() away from 0 in the unused branch, so its gradient stays finite.
    safe = jnp.where(big, jnp.abs(x), 1.0)
    first = jnp.where(big, jnp.log(safe) / p, -1.0)
    second = jnp.where(big, jnp.sign(x), math.exp(p) * x)
    return jnp.stack([first, second], axis=-1)


@functools.partial(jax.jit, static_argnames=("hidden_size", "scale"))
def _random_weights(
    rng: jax.Array, *, hidden_size: int, scale: float
) -> dict[str, jax.Array]:
    """The update rule's random weights, drawn in one jitted call."""
    size = hidden_size
    shapes = {
        "lstm_w_in": (4, 4 * size),
        "lstm_w_h": (size, 4 * size),
        "w_i": (size + 2,),
        "w_f": (size + 2,),
    }
    sizes = [math.prod(shape) for shape in shapes.values()]
    draw = scale * jax.random.normal(rng, (sum(sizes),), jnp.float32)
    pieces = jnp.split(draw, list(itertools.accumulate(sizes))[:-1])
    return {
        name: piece.reshape(shape)
        for (name, shape), piece in zip(shapes.items(), pieces, strict=True)
    }


def meta_lstm_init(
    rng: jax.Array,
    *,
    hidden_size: int = 20,
    init_lr: float = 0.01,
    init_forget: float = 0.9999,
    scale: float = 0.01,
) -> dict[str, jax.Array]:
    """Initialise the update rule's weights (shared by every coordinate).

    Args:
      rng: a typed key.
      hidden_size: LSTM hidden units H (20 in the paper).
      init_lr: ``sigmoid(b_i)``: the initial step size.
      init_forget: ``sigmoid(b_f)``: the initial shrinkage (near 1: none).
      scale: standard deviation of the random weights.

    Returns:
      A dict of arrays: ``lstm_w_in [4, 4H]``, ``lstm_w_h [H, 4H]``,
      ``lstm_b [4H]``, ``w_i [H + 2]``, ``b_i []``, ``w_f [H + 2]``, ``b_f []``.

    Raises:
      ValueError: for a non-positive ``hidden_size`` or rates outside (0, 1).
    """
    if isinstance(hidden_size, bool) or not isinstance(hidden_size, int):
        raise ValueError(f"hidden_size must be an int >= 1, got {hidden_size!r}")
    if hidden_size < 1:
        raise ValueError(f"hidden_size must be an int >= 1, got {hidden_size!r}")
    for name, value in (("init_lr", init_lr), ("init_forget", init_forget)):
        if not 0.0 < value < 1.0:
            raise ValueError(f"{name} must be in (0, 1), got {value}")
    weights = _random_weights(rng, hidden_size=hidden_size, scale=scale)
    logit = lambda q: math.log(q / (1.0 - q))
    return {
        **weights,
        "lstm_b": jnp.zeros((4 * hidden_size,), jnp.float32),
        "b_i": jnp.asarray(logit(init_lr), jnp.float32),
        "b_f": jnp.asarray(logit(init_forget), jnp.float32),
    }


def _check_rule(rule: Mapping[str, jax.Array]) -> int:
    expected = {"lstm_w_in", "lstm_w_h", "lstm_b", "w_i", "b_i", "w_f", "b_f"}
    if not isinstance(rule, Mapping) or set(rule) != expected:
        keys = sorted(rule) if isinstance(rule, Mapping) else type(rule).__name__
        raise ValueError(
            f"update rule must have keys {sorted(expected)} (meta_lstm_init), "
            f"got {keys}"
        )
    size = rule["lstm_w_h"].shape[0]
    shapes = {
        "lstm_w_in": (4, 4 * size),
        "lstm_w_h": (size, 4 * size),
        "lstm_b": (4 * size,),
        "w_i": (size + 2,),
        "b_i": (),
        "w_f": (size + 2,),
        "b_f": (),
    }
    for name, shape in shapes.items():
        if jnp.shape(rule[name]) != shape:
            raise ValueError(
                f"update rule {name} has shape {jnp.shape(rule[name])}, expected "
                f"{shape} for hidden size {size}"
            )
    return size


def meta_lstm_adapt(
    loss_fn: Callable[[Params, Batch], jax.Array],
    rule: Mapping[str, jax.Array],
    params: Params,
    support: Batch,
    num_steps: int,
    first_order: bool = False,
) -> Params:
    """Adapt ``params`` to one task with the learned update rule.

    Args:
      loss_fn: ``loss_fn(params, batch) -> scalar``, pure.
      rule: update-rule weights from :func:`meta_lstm_init`.
      params: the learner's initial parameters (any pytree of float arrays).
      support: the task's training batch.
      num_steps: inner steps (Python int >= 0).
      first_order: stop gradients through the learner's gradients and loss
        (the paper's choice, which saves the second derivatives).

    Returns:
      The adapted parameters, structured like ``params``.

    Raises:
      ValueError: for a malformed ``rule`` or ``num_steps``.

    References:
      Ravi & Larochelle, "Optimization as a Model for Few-Shot Learning"
      (ICLR 2017), https://openreview.net/forum?id=rJY0-Kcll
    """
    _check_steps(num_steps)
    size = _check_rule(rule)
    flat, unravel = ravel_pytree(params)
    dtype = flat.dtype
    n = flat.shape[0]

    def step(carry, _):
        theta, h, c, i_prev, f_prev = carry
        loss, grad = jax.value_and_grad(lambda t: loss_fn(unravel(t), support))(theta)
        if first_order:
            loss, grad = jax.lax.stop_gradient((loss, grad))
        features = jnp.concatenate(
            [preprocess(grad), jnp.broadcast_to(preprocess(loss), (n, 2))], axis=1
        )  # [n, 4]
        gates = features @ rule["lstm_w_in"] + h @ rule["lstm_w_h"]
        gates = gates + rule["lstm_b"][None]  # [n, 4H]
        g_in, g_forget, g_cell, g_out = jnp.split(gates, 4, axis=1)
        c = jax.nn.sigmoid(g_forget) * c + jax.nn.sigmoid(g_in) * jnp.tanh(g_cell)
        h = jax.nn.sigmoid(g_out) * jnp.tanh(c)  # [n, H]
        read_i = jnp.concatenate([h, theta[:, None], i_prev[:, None]], axis=1)
        read_f = jnp.concatenate([h, theta[:, None], f_prev[:, None]], axis=1)
        i_t = jax.nn.sigmoid(read_i @ rule["w_i"] + rule["b_i"])  # [n]
        f_t = jax.nn.sigmoid(read_f @ rule["w_f"] + rule["b_f"])
        theta = (f_t * theta - i_t * grad).astype(dtype)
        return (theta, h, c, i_t, f_t), None

    zeros_h = jnp.zeros((n, size), dtype)
    zeros_n = jnp.zeros((n,), dtype)
    carry = (flat, zeros_h, zeros_h, zeros_n, zeros_n)
    (theta, *_), _ = jax.lax.scan(step, carry, length=num_steps)
    return unravel(theta)


def meta_lstm_loss(
    loss_fn: Callable[[Params, Batch], jax.Array],
    meta_params: Mapping[str, Any],
    tasks: Mapping[str, Batch],
    num_steps: int,
    first_order: bool = False,
) -> jax.Array:
    """Mean query loss over tasks after adapting with the learned update rule.

    ``jax.grad`` of this with respect to ``meta_params`` trains the learner's
    initialisation and the update rule together.

    Args:
      loss_fn: ``loss_fn(params, batch) -> scalar``.
      meta_params: ``{"params": learner init, "rule": meta_lstm_init(...)}``.
      tasks: ``{"support": batch, "query": batch}`` with a leading task axis.
      num_steps: inner steps.
      first_order: see :func:`meta_lstm_adapt`.

    Returns:
      Scalar mean query loss.

    Raises:
      ValueError: for malformed ``meta_params``, ``tasks`` or ``num_steps``.

    References:
      Ravi & Larochelle (ICLR 2017), https://openreview.net/forum?id=rJY0-Kcll
    """
    if not isinstance(meta_params, Mapping) or set(meta_params) != {"params", "rule"}:
        keys = (
            sorted(meta_params)
            if isinstance(meta_params, Mapping)
            else type(meta_params).__name__
        )
        raise ValueError(f"meta_params must have keys 'params' and 'rule', got {keys}")
    _check_tasks(tasks)

    def task_loss(support, query):
        adapted = meta_lstm_adapt(
            loss_fn,
            meta_params["rule"],
            meta_params["params"],
            support,
            num_steps,
            first_order,
        )
        return loss_fn(adapted, query)

    return jnp.mean(jax.vmap(task_loss)(tasks["support"], tasks["query"]))
