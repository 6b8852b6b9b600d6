"""Few-shot baselines: a new linear or cosine head fitted on frozen features.

"Baseline" and "Baseline++" of Chen et al. (2019): train a feature extractor
with an ordinary classifier on the base classes, freeze it, and for each test
episode fit a new head on the support set's features; the query set is
classified by that head.

- ``kind="linear"`` (Baseline): ``logits = features @ w + b``. Fitting it is
  L2-regularised multinomial logistic regression, a convex problem; the default
  L-BFGS solves it to convergence, so the head is a well-defined function of
  the support set (scikit-learn's ``LogisticRegression(C=1 / (weight_decay *
  n))`` finds the same one).
- ``kind="cosine"`` (Baseline++): ``logits = scale * cos(features, w_c)``,
  the cosine similarity of each feature vector with each class's weight
  vector times a fixed ``scale``. The weights start at the normalised class
  means of the normalised support features (weight imprinting, Qi et al.
  2018: zero steps give the cosine nearest-centroid classifier). The logits
  do not depend on the norms of the weights, so weight decay does not apply;
  ``scale`` is the regulariser (a small one keeps the softmax soft).

Everything is a pure function of arrays with static shapes: an episode's
head is fitted by full-batch, deterministic optimisation in ``lax.scan``, so
:func:`fit_head` runs under ``jax.jit`` and ``jax.vmap`` (over episodes, as
:func:`jaxssl.evaluation.evaluate_episodes` does).

>>> head = fit_head(support_features, support_labels, way=5, kind="cosine")
>>> logits = head_logits(head, query_features, kind="cosine")  # doctest: +SKIP

References:
  Chen, Liu, Kira, Wang & Huang, "A Closer Look at Few-shot Classification"
  (ICLR 2019), https://arxiv.org/abs/1904.04232
  Qi, Brown & Lowe, "Low-Shot Learning with Imprinted Weights" (CVPR 2018),
  https://arxiv.org/abs/1712.07136
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import optax
from jax.typing import ArrayLike

from jaxssl.data.pipeline import to_float

HEAD_KINDS = ("linear", "cosine")
OPTIMIZERS = ("lbfgs", "adam")

# Defaults from the validation sweeps of benchmarks/fewshot_baselines_bench.py
# (5-way episodes of held-out base-class Fashion-MNIST images, conv4 features;
# never the novel classes). 1-shot favoured weak weight decay (1e-4) and 5-shot
# strong (1.0), each by 0.5-1.8 points over 1e-2, which is within 2 points of
# the best of both; the cosine scale was flat over 5-20 in 1-shot, and 5-shot
# favoured 2 over 5 by under a point and over 10 by 0.9-1.6 points.
DEFAULT_SCALE = 5.0
DEFAULT_WEIGHT_DECAY = 1e-2
DEFAULT_NUM_STEPS = 100
DEFAULT_LR = 0.1

Head = dict[str, jax.Array]


def _l2_normalize(x: jax.Array, axis: int) -> jax.Array:
    # max(., eps) rather than + eps: exact for nonzero rows, finite for zero rows.
    norm_sq = jnp.sum(jnp.square(x), axis=axis, keepdims=True)
    return x * jax.lax.rsqrt(jnp.maximum(norm_sq, 1e-12))


def _check_kind(kind: str) -> None:
    if kind not in HEAD_KINDS:
        raise ValueError(f"kind={kind!r} is not one of: {HEAD_KINDS}")


def _is_number(value: Any) -> bool:
    # Python numbers are checked eagerly; arrays (possibly traced) are not.
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_scale(scale: Any) -> None:
    if _is_number(scale) and not scale > 0:
        raise ValueError(f"scale must be > 0, got {scale!r}")


def cosine_logits(
    features: ArrayLike, weights: ArrayLike, scale: ArrayLike = DEFAULT_SCALE
) -> jax.Array:
    """Scaled cosine similarity of each feature vector with each class weight.

    Args:
      features: [n, D].
      weights: [D, way], one column per class.
      scale: positive scalar (a float, or a traced array for a learned scale).

    Returns:
      [n, way] float32, ``scale * <f_i / |f_i|, w_c / |w_c|>``.

    Raises:
      ValueError: for non-matrix inputs, mismatched D or a scale <= 0.
    """
    features, weights = jnp.asarray(features), jnp.asarray(weights)
    if features.ndim != 2 or weights.ndim != 2:
        raise ValueError(
            f"cosine_logits expects features [n, D] and weights [D, way], got "
            f"{features.shape} and {weights.shape}"
        )
    if features.shape[1] != weights.shape[0]:
        raise ValueError(
            f"feature dim {features.shape[1]} != weights dim {weights.shape[0]}"
        )
    _check_scale(scale)
    cosines = _l2_normalize(features, axis=1) @ _l2_normalize(weights, axis=0)
    return jnp.asarray(scale, cosines.dtype) * cosines


def head_logits(
    head: Mapping[str, jax.Array],
    features: ArrayLike,
    *,
    kind: str = "linear",
    scale: ArrayLike = DEFAULT_SCALE,
) -> jax.Array:
    """Logits of a head from :func:`fit_head` (or :func:`init_head`).

    Args:
      head: ``{"w": [D, way], "b": [way]}`` (linear) or ``{"w": [D, way]}``
        (cosine).
      features: [n, D].
      kind: ``"linear"`` or ``"cosine"``.
      scale: the cosine head's scale (ignored by the linear head).

    Returns:
      [n, way] logits.

    Raises:
      ValueError: for an unknown ``kind`` or mismatched shapes.
    """
    _check_kind(kind)
    features = jnp.asarray(features)
    if kind == "cosine":
        return cosine_logits(features, head["w"], scale)
    if features.ndim != 2 or features.shape[1] != head["w"].shape[0]:
        raise ValueError(
            f"features must be [n, {head['w'].shape[0]}], got {features.shape}"
        )
    return features @ head["w"] + head["b"][None, :]


def init_head(
    features: ArrayLike, labels: ArrayLike, way: int, *, kind: str = "linear"
) -> Head:
    """The deterministic starting head of :func:`fit_head`.

    Linear: zeros (the problem is convex, so the start only affects speed).
    Cosine: each class's weight is the normalised mean of its normalised
    support features (weight imprinting), so an unfitted head is the cosine
    nearest-centroid classifier.

    Args:
      features: support features [n, D].
      labels: int [n] in ``0..way-1``.
      way: number of classes (static).
      kind: ``"linear"`` or ``"cosine"``.

    Returns:
      The head pytree (see :func:`head_logits`).
    """
    _check_kind(kind)
    features = jnp.asarray(features, jnp.float32)
    dim = features.shape[1]
    if kind == "linear":
        return {
            "w": jnp.zeros((dim, way), jnp.float32),
            "b": jnp.zeros((way,), jnp.float32),
        }
    one_hot = jax.nn.one_hot(labels, way, dtype=jnp.float32)  # [n, way]
    sums = _l2_normalize(features, axis=1).T @ one_hot  # [D, way]
    return {"w": _l2_normalize(sums, axis=0)}


def _check_fit_args(features, labels, way, kind, num_steps, optimizer, lr, wd, scale):
    _check_kind(kind)
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer={optimizer!r} is not one of: {OPTIMIZERS}")
    if features.ndim != 2:
        raise ValueError(f"features must be [n, D], got shape {features.shape}")
    if labels.shape != (features.shape[0],):
        raise ValueError(
            f"labels must have shape ({features.shape[0]},), got {labels.shape}"
        )
    if not jnp.issubdtype(labels.dtype, jnp.integer):
        raise ValueError(f"labels must be integers, got dtype {labels.dtype}")
    for name, value, low in (("way", way, 2), ("num_steps", num_steps, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
    if _is_number(lr) and not lr > 0:
        raise ValueError(f"lr must be > 0, got {lr!r}")
    if _is_number(wd) and not wd >= 0:
        raise ValueError(f"weight_decay must be >= 0, got {wd!r}")
    _check_scale(scale)


def fit_head(
    features: ArrayLike,
    labels: ArrayLike,
    way: int,
    *,
    kind: str = "linear",
    num_steps: int = DEFAULT_NUM_STEPS,
    optimizer: str = "lbfgs",
    lr: float = DEFAULT_LR,
    weight_decay: float = DEFAULT_WEIGHT_DECAY,
    scale: ArrayLike = DEFAULT_SCALE,
) -> Head:
    """Fit a new classification head on (frozen) support features.

    Minimises the mean softmax cross-entropy of the support set, plus
    ``weight_decay / 2 * |w|^2`` for the linear head (the bias is not
    penalised), by ``num_steps`` full-batch steps from :func:`init_head`
    inside one ``lax.scan``: deterministic, jit- and vmap-able (vmap over
    episodes for a batch of heads).

    Args:
      features: support features [n, D] (any float dtype; fitted in float32).
      labels: int [n] in ``0..way-1``.
      way: number of classes (static, >= 2).
      kind: ``"linear"`` (Baseline) or ``"cosine"`` (Baseline++).
      num_steps: optimiser steps (0 returns :func:`init_head`).
      optimizer: ``"lbfgs"`` (default: L-BFGS with a backtracking line
        search, which sets the step size, so ``lr`` is unused; converges on
        the convex linear problem; not reverse-differentiable) or ``"adam"``
        (step size ``lr``; a plain scan that can be differentiated through).
      lr: Adam's step size. ``lr``, ``weight_decay`` and ``scale`` may be
        arrays (traced: one compilation serves a sweep); Python numbers are
        range-checked.
      weight_decay: L2 penalty on the linear head's weights, >= 0 (the
        same solution as scikit-learn's ``LogisticRegression`` with ``C = 1
        / (weight_decay * n)``); unused by the cosine head.
      scale: the cosine head's fixed scale (> 0).

    Returns:
      The fitted head, ``{"w": [D, way], "b": [way]}`` (linear) or ``{"w":
      [D, way]}`` (cosine), float32.

    Raises:
      ValueError: for an unknown ``kind`` or ``optimizer``, bad shapes or
        dtypes, or out-of-range numbers.
    """
    features, labels = jnp.asarray(features), jnp.asarray(labels)
    _check_fit_args(
        features, labels, way, kind, num_steps, optimizer, lr, weight_decay, scale
    )
    features = features.astype(jnp.float32)
    head = init_head(features, labels, way, kind=kind)
    if num_steps == 0:
        return head
    if kind == "cosine":
        # Normalised once here; cosine_logits normalises again (a no-op).
        features = _l2_normalize(features, axis=1)

    def objective(params):
        logits = head_logits(params, features, kind=kind, scale=scale)
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()
        if kind == "linear":
            loss = loss + 0.5 * weight_decay * jnp.sum(jnp.square(params["w"]))
        return loss

    if optimizer == "lbfgs":
        # Backtracking (Armijo) rather than optax's default zoom line search:
        # the same iterates here at a third of the compile time.
        tx = optax.lbfgs(
            linesearch=optax.scale_by_backtracking_linesearch(
                max_backtracking_steps=20, store_grad=True
            )
        )
        value_and_grad = optax.value_and_grad_from_state(objective)

        def step(carry, _):
            params, opt_state = carry
            value, grads = value_and_grad(params, state=opt_state)
            updates, opt_state = tx.update(
                grads, opt_state, params, value=value, grad=grads, value_fn=objective
            )
            return (optax.apply_updates(params, updates), opt_state), None

    else:
        # eps_root > 0 keeps the square root differentiable at zero (optax doc).
        tx = optax.adam(lr, eps_root=1e-12)

        def step(carry, _):
            params, opt_state = carry
            grads = jax.grad(objective)(params)
            updates, opt_state = tx.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state), None

    (head, _), _ = jax.lax.scan(step, (head, tx.init(head)), length=num_steps)
    return head


def baseline_accuracy(
    support_features: ArrayLike,
    support_labels: ArrayLike,
    query_features: ArrayLike,
    query_labels: ArrayLike,
    way: int,
    *,
    kind: str = "linear",
    **fit_kwargs: Any,
) -> jax.Array:
    """Query accuracy of a head fitted on the support features.

    Args:
      support_features, support_labels: [n, D] and int [n].
      query_features, query_labels: [m, D] and int [m].
      way: number of classes (static).
      kind: ``"linear"`` or ``"cosine"``.
      **fit_kwargs: the other arguments of :func:`fit_head` (``num_steps``,
        ``optimizer``, ``lr``, ``weight_decay``, ``scale``).

    Returns:
      Scalar float32 accuracy.
    """
    head = fit_head(support_features, support_labels, way, kind=kind, **fit_kwargs)
    scale = fit_kwargs.get("scale", DEFAULT_SCALE)
    logits = head_logits(
        head, jnp.asarray(query_features, jnp.float32), kind=kind, scale=scale
    )
    return jnp.mean(jnp.argmax(logits, axis=-1) == jnp.asarray(query_labels))


def baseline_score_fn(
    way: int,
    *,
    kind: str = "linear",
    embed_fn: Callable[[jax.Array], jax.Array] | None = None,
    **fit_kwargs: Any,
) -> Callable[[Mapping[str, Any]], jax.Array]:
    """A ``score_fn(episode) -> accuracy`` for ``jaxssl.evaluation.evaluate_episodes``.

    uint8 images are scaled to [0, 1]; support and query examples are
    embedded in one ``embed_fn`` call (as ProtoNets' evaluation does, which
    matters only for a batch-dependent embedding such as transductive batch
    norm) and flattened; then :func:`baseline_accuracy`. With
    ``embed_fn=None`` the episode's examples are used as features as they
    are (e.g. episodes drawn from precomputed embeddings).

    Args:
      way: the episodes' number of classes (static).
      kind: ``"linear"`` or ``"cosine"``.
      embed_fn: frozen embedding ``[n, ...] -> [n, D]``, or None.
      **fit_kwargs: passed to :func:`fit_head`.

    Returns:
      The pure, vmappable scorer. Build it once and reuse it: the same
      function object reuses the compilation.
    """
    _check_kind(kind)

    def score(episode):
        support, query = episode["support"], episode["query"]
        examples = jnp.concatenate([support["x"], query["x"]])
        if examples.dtype == jnp.uint8:
            examples = to_float(examples)
        if embed_fn is not None:
            examples = embed_fn(examples)
        features = examples.reshape(examples.shape[0], -1)
        num_support = support["x"].shape[0]
        return baseline_accuracy(
            features[:num_support],
            support["y"],
            features[num_support:],
            query["y"],
            way,
            kind=kind,
            **fit_kwargs,
        )

    return score


__all__ = [
    "HEAD_KINDS",
    "OPTIMIZERS",
    "baseline_accuracy",
    "baseline_score_fn",
    "cosine_logits",
    "fit_head",
    "head_logits",
    "init_head",
]
