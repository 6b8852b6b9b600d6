"""Contrastive objectives: InfoNCE, NT-Xent (SimCLR), CPC, multiview (CMC), BYOL.

Every function is pure (arrays in, a float32 scalar out) and works under
``jax.jit``, ``jax.vmap`` and ``jax.grad``. None of them knows about devices:
for global-batch negatives under ``pmap``/``shard_map``, gather the embeddings
outside (``jaxssl.methods.contrastive_common``) and pass this device's rows
plus the gathered rows to :func:`nt_xent_local` / :func:`info_nce_local`,
which equal :func:`nt_xent` / :func:`info_nce` on the whole batch once
averaged over devices.

Rows are L2-normalised with an epsilon (``x / max(||x||, eps)``, as
``torch.nn.functional.normalize``), so zero vectors give zero similarities and
finite gradients instead of NaN.
"""

from __future__ import annotations

import itertools
import numbers
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

# Rows shorter than this are treated as having this norm (no division by 0).
NORMALIZE_EPS = 1e-8

# Similarities are computed in full float32: on GPUs the default float32 dot
# uses TF32 (10-bit mantissa), an error of ~1e-3 in a cosine that a
# temperature of 0.07 turns into ~1e-2 in a logit. These [B, B] products are
# tiny next to the encoder, so exactness costs nothing measurable.
_PRECISION = jax.lax.Precision.HIGHEST


def _similarities(rows: jax.Array, columns: jax.Array) -> jax.Array:
    """[R, D] x [C, D] -> [R, C] dot products in full float32."""
    return jnp.matmul(rows, columns.T, precision=_PRECISION)


MULTIVIEW_PAIRS = ("full", "core")
REDUCTIONS = ("mean", "sum")


def l2_normalize(x: ArrayLike, *, eps: float = NORMALIZE_EPS) -> jax.Array:
    """Scale each row to unit L2 norm; rows shorter than ``eps`` are divided by eps.

    ``rsqrt(max(|x|^2, eps^2))`` keeps the gradient finite at ``x = 0`` (a
    ``sqrt`` there would give an infinite derivative and NaN losses).

    Args:
      x: [..., D] floats.
      eps: smallest norm divided by.

    Returns:
      [..., D] float32, each row of norm 1 (or shorter than 1 if ``|x| < eps``).
    """
    x = jnp.asarray(x, jnp.float32)
    sq_norm = jnp.sum(jnp.square(x), axis=-1, keepdims=True)
    return x * jax.lax.rsqrt(jnp.maximum(sq_norm, eps * eps))


def _check_temperature(what: str, temperature) -> None:
    # A traced temperature (learned, scheduled) cannot be checked eagerly.
    if isinstance(temperature, numbers.Real) and not temperature > 0:
        raise ValueError(f"{what}: temperature must be > 0, got {temperature!r}")


def _check_rows(what: str, **arrays: jax.Array) -> None:
    for name, array in arrays.items():
        if array.ndim != 2:
            raise ValueError(f"{what}: {name} must be [batch, dim], got {array.shape}")


def _cross_entropy(logits: jax.Array, labels: jax.Array) -> jax.Array:
    """Per-row softmax cross-entropy: [R, C] logits, [R] int labels -> [R]."""
    label_logits = jnp.take_along_axis(logits, labels[:, None], axis=1)[:, 0]
    return jax.nn.logsumexp(logits, axis=1) - label_logits


def _check_offset(what: str, offset, rows: int, total: int) -> None:
    if isinstance(offset, numbers.Integral) and not 0 <= offset <= total - rows:
        raise ValueError(
            f"{what}: offset={offset} must be in [0, {total - rows}] so that the "
            f"{rows} local rows lie inside the {total} global rows"
        )


def info_nce_local(
    anchors: ArrayLike,
    positives_global: ArrayLike,
    *,
    offset: int | ArrayLike = 0,
    temperature: float | ArrayLike = 0.1,
    negatives: ArrayLike | None = None,
    in_batch_negatives: bool = True,
) -> jax.Array:
    """InfoNCE of some anchor rows against a (global) batch of positives.

    Anchor ``i`` is row ``offset + i`` of the global batch: its positive is
    ``positives_global[offset + i]``; with ``in_batch_negatives`` every other
    row of ``positives_global`` is a negative, and so is every row of
    ``negatives``. With ``offset=0`` and all rows this is :func:`info_nce`;
    for equal shards, the mean over devices of the shard losses is the
    global-batch loss (and so are the gradients).

    Args:
      anchors: [n, D] this shard's anchors.
      positives_global: [N, D] positives of the whole batch, N >= n.
      offset: index of the first anchor in the global batch (an int, or a
        traced int such as ``axis_index * n``).
      temperature: softmax temperature (> 0).
      negatives: optional [M, D] extra negatives (a MoCo queue, memory bank).
      in_batch_negatives: use the other positives as negatives too. False
        gives MoCo's definition: each anchor's candidates are its own
        positive and the ``negatives`` only.

    Returns:
      Scalar float32: mean cross-entropy over the ``n`` anchors.

    Raises:
      ValueError: on shape mismatches, a non-positive temperature, or
        ``in_batch_negatives=False`` without ``negatives``.
    """
    what = "info_nce"
    anchors = jnp.asarray(anchors, jnp.float32)
    positives_global = jnp.asarray(positives_global, jnp.float32)
    _check_rows(what, anchors=anchors, positives=positives_global)
    _check_temperature(what, temperature)
    rows, dim = anchors.shape
    total = positives_global.shape[0]
    if positives_global.shape[1] != dim or total < rows:
        raise ValueError(
            f"{what}: positives {positives_global.shape} do not match anchors "
            f"{anchors.shape} (same dim, at least as many rows)"
        )
    _check_offset(what, offset, rows, total)
    if negatives is not None:
        negatives = jnp.asarray(negatives, jnp.float32)
        _check_rows(what, negatives=negatives)
        if negatives.shape[1] != dim:
            raise ValueError(
                f"{what}: negatives {negatives.shape} must have the anchors' dim {dim}"
            )
    elif not in_batch_negatives:
        raise ValueError(f"{what}: in_batch_negatives=False needs negatives=[M, D]")

    temperature = jnp.asarray(temperature, jnp.float32)
    anchors = l2_normalize(anchors)
    positives_global = l2_normalize(positives_global)
    global_rows = jnp.arange(rows) + offset  # [n]
    if in_batch_negatives:
        logits = _similarities(anchors, positives_global)  # [n, N]
        labels = global_rows
    else:
        own = jnp.take(positives_global, global_rows, axis=0)  # [n, D]
        logits = jnp.sum(anchors * own, axis=1, keepdims=True)  # [n, 1]
        labels = jnp.zeros((rows,), jnp.int32)
    if negatives is not None:
        negative_logits = _similarities(anchors, l2_normalize(negatives))  # [n, M]
        logits = jnp.concatenate([logits, negative_logits], axis=1)
    return _cross_entropy(logits / temperature, labels).mean()


def info_nce(
    anchors: ArrayLike,
    positives: ArrayLike,
    *,
    temperature: float | ArrayLike = 0.1,
    negatives: ArrayLike | None = None,
    in_batch_negatives: bool = True,
) -> jax.Array:
    """Compute the InfoNCE loss of anchors against their positives.

    Rows are L2-normalised; row ``i`` of ``positives`` is the positive of row
    ``i`` of ``anchors``; the other rows of ``positives`` and every row of
    ``negatives`` are its negatives (``B - 1 + M`` of them). The loss is the
    mean over anchors of ``-log softmax(sim / temperature)[positive]``, where
    ``sim`` is the cosine similarity. With ``negatives=queue`` this is MoCo's
    loss including in-batch negatives; ``in_batch_negatives=False`` gives
    MoCo's Algorithm 1 exactly (positive plus queue only).

    Args:
      anchors: [B, D] (queries).
      positives: [B, D] (keys).
      temperature: softmax temperature (> 0); MoCo uses 0.07.
      negatives: optional [M, D] extra negatives, e.g. a queue of past keys.
      in_batch_negatives: whether other rows of ``positives`` are negatives.

    Returns:
      Scalar float32 mean loss; ``log(B + M)`` when all similarities are equal.

    Raises:
      ValueError: on shape mismatches or a non-positive temperature.

    References:
      van den Oord, Li & Vinyals, "Representation Learning with Contrastive
      Predictive Coding" (2018), https://arxiv.org/abs/1807.03748
      He et al., "Momentum Contrast for Unsupervised Visual Representation
      Learning" (CVPR 2020), https://arxiv.org/abs/1911.05722
    """
    anchors = jnp.asarray(anchors, jnp.float32)
    positives = jnp.asarray(positives, jnp.float32)
    if anchors.shape != positives.shape:
        raise ValueError(
            f"info_nce: anchors {anchors.shape} and positives {positives.shape} "
            "must have the same shape [batch, dim]"
        )
    return info_nce_local(
        anchors,
        positives,
        temperature=temperature,
        negatives=negatives,
        in_batch_negatives=in_batch_negatives,
    )


def nt_xent_local(
    z1: ArrayLike,
    z2: ArrayLike,
    z1_global: ArrayLike,
    z2_global: ArrayLike,
    *,
    offset: int | ArrayLike = 0,
    temperature: float | ArrayLike = 0.5,
) -> jax.Array:
    """NT-Xent of some rows of both views against the whole (global) batch.

    ``z1``/``z2`` are rows ``offset .. offset + n`` of ``z1_global`` /
    ``z2_global``. Each of the ``2n`` local anchors is scored against all
    ``2N`` global rows but itself; its positive is the other view of the same
    example. With ``offset=0`` and all rows this is :func:`nt_xent`; for equal
    shards, the mean over devices of the shard losses is the global-batch
    loss (the ``labels = idx + replica_id * batch`` trick of SimCLR's TPU
    code).

    Args:
      z1: [n, D] this shard's first-view embeddings.
      z2: [n, D] this shard's second-view embeddings.
      z1_global: [N, D] first views of the whole batch (N >= n).
      z2_global: [N, D] second views of the whole batch.
      offset: index of this shard's first row in the global batch (an int or a
        traced int such as ``axis_index * n``).
      temperature: softmax temperature (> 0).

    Returns:
      Scalar float32: mean cross-entropy over the ``2n`` local anchors.

    Raises:
      ValueError: on shape mismatches or a non-positive temperature.
    """
    what = "nt_xent"
    z1, z2 = jnp.asarray(z1, jnp.float32), jnp.asarray(z2, jnp.float32)
    z1_global = jnp.asarray(z1_global, jnp.float32)
    z2_global = jnp.asarray(z2_global, jnp.float32)
    _check_rows(what, z1=z1, z2=z2, z1_global=z1_global, z2_global=z2_global)
    _check_temperature(what, temperature)
    if z1.shape != z2.shape:
        raise ValueError(f"{what}: view shapes differ: z1 {z1.shape} vs z2 {z2.shape}")
    if z1_global.shape != z2_global.shape:
        raise ValueError(
            f"{what}: global view shapes differ: z1_global {z1_global.shape} vs "
            f"z2_global {z2_global.shape}"
        )
    rows, dim = z1.shape
    total = z1_global.shape[0]
    if z1_global.shape[1] != dim or total < rows:
        raise ValueError(
            f"{what}: global views {z1_global.shape} do not match local views "
            f"{z1.shape} (same dim, at least as many rows)"
        )
    _check_offset(what, offset, rows, total)

    temperature = jnp.asarray(temperature, jnp.float32)
    anchors = l2_normalize(jnp.concatenate([z1, z2]))  # [2n, D]
    candidates = l2_normalize(jnp.concatenate([z1_global, z2_global]))  # [2N, D]
    logits = _similarities(anchors, candidates) / temperature  # [2n, 2N]
    global_rows = jnp.arange(rows) + offset  # [n]
    # Candidate index of each anchor itself, and of its other view.
    self_index = jnp.concatenate([global_rows, global_rows + total])  # [2n]
    labels = jnp.concatenate([global_rows + total, global_rows])  # [2n]
    is_self = jnp.arange(2 * total)[None, :] == self_index[:, None]  # [2n, 2N]
    logits = jnp.where(is_self, -jnp.inf, logits)
    return _cross_entropy(logits, labels).mean()


def nt_xent(
    z1: ArrayLike, z2: ArrayLike, *, temperature: float | ArrayLike = 0.5
) -> jax.Array:
    """Compute SimCLR's normalised temperature-scaled cross-entropy (NT-Xent).

    The ``2N`` rows of both views are L2-normalised; each row's positive is
    the other view of the same example and the other ``2N - 2`` rows are its
    negatives (the row itself is excluded). The loss is the mean over all
    ``2N`` rows of ``-log softmax(sim / temperature)[positive]``, i.e. the
    paper's ``1/(2N) sum_k [l(2k-1, 2k) + l(2k, 2k-1)]``.

    Args:
      z1: [N, D] embeddings (projection-head outputs) of the first views.
      z2: [N, D] embeddings of the second views.
      temperature: softmax temperature (> 0).

    Returns:
      Scalar float32 mean loss; ``log(2N - 1)`` when all similarities are equal.

    Raises:
      ValueError: if the views' shapes differ or are not [N, D].

    References:
      Chen et al., "A Simple Framework for Contrastive Learning of Visual
      Representations" (ICML 2020), https://arxiv.org/abs/2002.05709
    """
    return nt_xent_local(z1, z2, z1, z2, temperature=temperature)


def cpc_loss(
    predictions: ArrayLike,
    targets: ArrayLike,
    *,
    mask: ArrayLike | None = None,
    temperature: float | ArrayLike = 1.0,
) -> jax.Array:
    """Compute the CPC InfoNCE loss of predicted patch embeddings.

    Row ``i`` of ``predictions`` (``W_k c_t``: the context at one location
    mapped to the embedding it predicts ``k`` steps ahead) is scored against
    every row of ``targets`` (the encoded patches ``z_{t+k}``) by a dot
    product, CPC's log-bilinear score ``z^T W_k c``; its positive is row ``i``
    and all other valid targets in the batch (other locations, other images)
    are negatives. Embeddings are not normalised. A leading step axis holds
    one independent problem per prediction offset ``k``.

    Args:
      predictions: [N, D] or [K, N, D] predicted embeddings, one row per
        (image, location) pair, flattened, for each of K offsets.
      targets: same shape: the true embeddings at the predicted locations.
      mask: optional float weights [N] or [K, N] (1 valid, 0 invalid, e.g.
        locations whose k-step future falls outside the grid). Invalid rows
        are neither scored nor used as negatives.
      temperature: divides the scores (> 0); 1 is CPC's bilinear score.

    Returns:
      Scalar float32: weighted mean cross-entropy over valid rows of all
      steps (0 if none is valid).

    Raises:
      ValueError: on shape mismatches or a non-positive temperature.

    References:
      van den Oord, Li & Vinyals, "Representation Learning with Contrastive
      Predictive Coding" (2018), https://arxiv.org/abs/1807.03748
      Hénaff et al., "Data-Efficient Image Recognition with Contrastive
      Predictive Coding" (ICML 2020), https://arxiv.org/abs/1905.09272
    """
    what = "cpc_loss"
    predictions = jnp.asarray(predictions, jnp.float32)
    targets = jnp.asarray(targets, jnp.float32)
    _check_temperature(what, temperature)
    if predictions.shape != targets.shape:
        raise ValueError(
            f"{what}: predictions {predictions.shape} and targets {targets.shape} "
            "must have the same shape"
        )
    if predictions.ndim not in (2, 3):
        raise ValueError(
            f"{what}: predictions must be [N, D] or [K, N, D], got {predictions.shape}"
        )
    mask_shape = predictions.shape[:-1]  # [N] or [K, N]
    if predictions.ndim == 2:
        predictions, targets = predictions[None], targets[None]
    steps, rows, _ = predictions.shape
    if mask is None:
        weights = jnp.ones((steps, rows), jnp.float32)
    else:
        weights = jnp.asarray(mask, jnp.float32)
        if weights.shape != mask_shape:
            raise ValueError(
                f"{what}: mask {weights.shape} must match the predictions' leading "
                f"axes {mask_shape} ([N] or [K, N])"
            )
        weights = weights.reshape(steps, rows)

    temperature = jnp.asarray(temperature, jnp.float32)
    logits = jnp.einsum("knd,kmd->knm", predictions, targets, precision=_PRECISION)
    logits = logits / temperature
    # A row always keeps its own target, so even an invalid row's logsumexp is
    # finite (a row of all -inf would put NaN into the gradient).
    keep = (weights[:, None, :] > 0) | jnp.eye(rows, dtype=bool)[None]  # [K, N, N]
    logits = jnp.where(keep, logits, -jnp.inf)
    labels = jnp.arange(rows)
    per_row = jax.vmap(_cross_entropy, in_axes=(0, None))(logits, labels)  # [K, N]
    total = jnp.sum(weights * per_row)
    return total / jnp.maximum(jnp.sum(weights), 1e-12)


def _pair_weights(num_views: int, pairs: str) -> np.ndarray:
    """[V, V] 0/1 weights of the ordered (anchor view, positive view) pairs."""
    weights = np.zeros((num_views, num_views), np.float32)
    for i, j in itertools.permutations(range(num_views), 2):
        if pairs == "full" or i == 0 or j == 0:
            weights[i, j] = 1.0
    return weights


def multiview_nce(
    views: ArrayLike | Sequence[ArrayLike],
    *,
    temperature: float | ArrayLike = 0.1,
    pairs: str = "full",
    reduction: str = "mean",
) -> jax.Array:
    """Compute CMC's multiview contrastive loss: InfoNCE over pairs of views.

    For every ordered pair of distinct views ``(i, j)`` in the pair graph,
    ``info_nce(views[i], views[j])``: row ``b`` of view ``i`` must pick row
    ``b`` of view ``j`` among all B rows of view ``j``. ``pairs="full"`` uses
    every pair (CMC's full graph, ``V (V - 1)`` ordered pairs);
    ``pairs="core"`` only pairs involving view 0 (CMC's core view,
    ``2 (V - 1)`` ordered pairs). ``reduction="sum"`` is CMC's
    ``sum_{i<j} L(V_i, V_j) + L(V_j, V_i)``; ``"mean"`` divides by the number
    of ordered pairs, so two views give the symmetric InfoNCE average.

    Args:
      views: [V, B, D] embeddings of V >= 2 views (or a sequence of V [B, D]).
      temperature: softmax temperature (> 0).
      pairs: ``"full"`` or ``"core"``.
      reduction: ``"mean"`` or ``"sum"`` over ordered pairs.

    Returns:
      Scalar float32 loss.

    Raises:
      ValueError: on fewer than two views, bad shapes or unknown options.

    References:
      Tian, Krishnan & Isola, "Contrastive Multiview Coding" (ECCV 2020),
      https://arxiv.org/abs/1906.05849
    """
    what = "multiview_nce"
    if pairs not in MULTIVIEW_PAIRS:
        raise ValueError(
            f"{what}: pairs={pairs!r} is not one of: {', '.join(MULTIVIEW_PAIRS)}"
        )
    if reduction not in REDUCTIONS:
        raise ValueError(
            f"{what}: reduction={reduction!r} is not one of: {', '.join(REDUCTIONS)}"
        )
    _check_temperature(what, temperature)
    if isinstance(views, list | tuple):
        shapes = [jnp.shape(view) for view in views]
        if len(set(shapes)) > 1:
            raise ValueError(f"{what}: views must share one shape [B, D], got {shapes}")
        if not views:
            raise ValueError(f"{what}: needs at least 2 views, got 0")
        views = jnp.stack([jnp.asarray(view, jnp.float32) for view in views])
    views = jnp.asarray(views, jnp.float32)
    if views.ndim != 3 or views.shape[0] < 2:
        raise ValueError(
            f"{what}: views must be [V, B, D] with V >= 2, got shape {views.shape}"
        )
    num_views, batch, _ = views.shape

    temperature = jnp.asarray(temperature, jnp.float32)
    views = l2_normalize(views)
    logits = jnp.einsum("ibd,jcd->ijbc", views, views, precision=_PRECISION)
    logits = logits / temperature  # [V, V, B, B]
    positive = jnp.diagonal(logits, axis1=2, axis2=3)  # [V, V, B]
    per_row = jax.nn.logsumexp(logits, axis=-1) - positive  # [V, V, B]
    weights = _pair_weights(num_views, pairs)
    total = jnp.sum(jnp.asarray(weights) * per_row.mean(axis=-1))
    if reduction == "sum":
        return total
    return total / float(weights.sum())


def byol_loss(predictions: ArrayLike, targets: ArrayLike) -> jax.Array:
    """Compute BYOL's normalised regression loss, ``2 - 2 cos(p, z)``, row mean.

    ``|| p / |p| - z / |z| ||^2`` per row, averaged: the negative-free
    objective of BYOL and SimSiam. ``targets`` pass through
    ``jax.lax.stop_gradient``: both methods treat the target branch as a
    constant (BYOL's comes from EMA weights; SimSiam's stop-gradient is what
    prevents collapse). Symmetrising over the two views is the method's job.

    Args:
      predictions: [B, D] online-branch predictor outputs.
      targets: [B, D] target-branch projections of the other view.

    Returns:
      Scalar float32 in [0, 4]; 0 when every prediction points along its
      target.

    Raises:
      ValueError: if the shapes differ or are not [B, D].

    References:
      Grill et al., "Bootstrap Your Own Latent" (NeurIPS 2020),
      https://arxiv.org/abs/2006.07733 (eq. 2)
      Chen & He, "Exploring Simple Siamese Representation Learning" (CVPR
      2021), https://arxiv.org/abs/2011.10566
    """
    predictions = jnp.asarray(predictions, jnp.float32)
    targets = jnp.asarray(targets, jnp.float32)
    _check_rows("byol_loss", predictions=predictions, targets=targets)
    if predictions.shape != targets.shape:
        raise ValueError(
            f"byol_loss: predictions {predictions.shape} and targets "
            f"{targets.shape} must have the same shape [batch, dim]"
        )
    targets = l2_normalize(jax.lax.stop_gradient(targets))
    cosine = jnp.sum(l2_normalize(predictions) * targets, axis=1)  # [B]
    return jnp.mean(2.0 - 2.0 * cosine)
