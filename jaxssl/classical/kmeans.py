"""K-means: k-means++ seeding, Lloyd iterations, mini-batch and spherical variants.

Everything is a pure, jit-compiled function of arrays and a typed RNG key.
Shapes and the options that change the computation (``num_clusters``,
``num_iters``, ``num_restarts``, ``variant``, ``metric``, ...) are static, so
repeated calls with the same shapes reuse one compiled program.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

from jaxssl.classical._common import HIGHEST, as_float_matrix, sq_distances

_VARIANTS = ("lloyd", "minibatch")
_METRICS = ("euclidean", "cosine")


class KMeansResult(NamedTuple):
    """Result of :func:`kmeans`; unpacks as ``centroids, labels, inertia``.

    Attributes:
      centroids: [num_clusters, dim] cluster centres (unit-norm for cosine).
      labels: [num_points] int32 index of each point's nearest centre; every
        cluster has at least one point.
      inertia: scalar sum of squared distances of points to their centres
        (for ``metric="cosine"``: sum of ``1 - cosine similarity``).
    """

    centroids: jax.Array
    labels: jax.Array
    inertia: jax.Array


def _normalize(x: jax.Array) -> jax.Array:
    norm = jnp.sqrt(jnp.sum(x * x, axis=-1, keepdims=True))
    return x / jnp.maximum(norm, jnp.finfo(x.dtype).tiny)


def _kmeans_plusplus(
    x: jax.Array, x_sq: jax.Array, num_clusters: int, uniforms: jax.Array
) -> jax.Array:
    """Greedy k-means++ (Arthur & Vassilvitskii 2007, as scikit-learn does it).

    ``uniforms`` [1 + num_clusters * trials] holds all the randomness (drawn
    by the caller in one call: fewer RNG kernels to compile).
    """
    n, dim = x.shape
    trials = (uniforms.shape[0] - 1) // num_clusters
    first = jnp.minimum((uniforms[0] * n).astype(jnp.int32), n - 1)
    uniforms = uniforms[1:].reshape(num_clusters, trials)
    centers = jnp.zeros((num_clusters, dim), x.dtype).at[0].set(x[first])
    closest = sq_distances(x, x[first][None, :], x_sq)[:, 0]  # [n]

    def add_center(i, carry):
        centers, closest = carry
        # Inverse-CDF sampling, proportional to the squared distance to the
        # nearest chosen centre (O(n), unlike Gumbel sampling per trial).
        cdf = jnp.cumsum(closest)
        candidates = jnp.searchsorted(
            cdf, uniforms[i] * cdf[-1], side="right", method="compare_all"
        )
        candidates = jnp.minimum(candidates, n - 1)
        dists = sq_distances(x, x[candidates], x_sq)  # [n, trials]
        new_closest = jnp.minimum(closest[:, None], dists)
        best = jnp.argmin(jnp.sum(new_closest, axis=0))
        return centers.at[i].set(x[candidates[best]]), new_closest[:, best]

    centers, _ = lax.fori_loop(1, num_clusters, add_center, (centers, closest))
    return centers


def _assign(x, x_sq, centers):
    dists = sq_distances(x, centers, x_sq)  # [n, k]
    labels = jnp.argmin(dists, axis=1).astype(jnp.int32)
    return labels, jnp.take_along_axis(dists, labels[:, None], axis=1)[:, 0]


def _empty_first(counts: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Cluster ids with the empty ones first, and which of those are empty."""
    order = jnp.argsort((counts > 0).astype(jnp.int32), stable=True)
    return order, counts[order] == 0


def _relocate_empty(x, labels, min_dists, counts, sums):
    """Move the points farthest from their centres into empty clusters.

    Returns updated ``labels, counts, sums``; as scikit-learn does, the moved
    points leave their old clusters (whose sums and counts are corrected).
    The i-th empty cluster receives the i-th farthest point.
    """
    n = x.shape[0]
    k = counts.shape[0]
    order, valid = _empty_first(counts)
    moved = lax.top_k(min_dists, k)[1]  # [k] farthest first; k <= n
    moved_x = jnp.where(valid[:, None], x[moved], 0.0)  # [k, d]
    weight = valid.astype(x.dtype)
    old = labels[moved]
    sums = (
        sums
        - jax.ops.segment_sum(moved_x, old, num_segments=k)
        + jax.ops.segment_sum(moved_x, order, num_segments=k)
    )
    counts = (
        counts
        - jax.ops.segment_sum(weight, old, num_segments=k)
        + jax.ops.segment_sum(weight, order, num_segments=k)
    )
    labels = labels.at[jnp.where(valid, moved, n)].set(
        order.astype(labels.dtype), mode="drop"
    )
    return labels, counts, sums


def _centers_from(x, labels, min_dists, old_centers, cosine):
    k = old_centers.shape[0]
    one_hot = jax.nn.one_hot(labels, k, dtype=x.dtype)  # [n, k]
    counts = jnp.sum(one_hot, axis=0)
    sums = jnp.matmul(one_hot.T, x, precision=HIGHEST)  # [k, d]
    labels, counts, sums = _relocate_empty(x, labels, min_dists, counts, sums)
    if cosine:
        centers = _normalize(sums)
    else:
        centers = sums / jnp.maximum(counts, 1.0)[:, None]
    return jnp.where((counts > 0)[:, None], centers, old_centers), labels


def _finalize(x, x_sq, centers, cosine):
    """Final assignment with the no-empty-cluster guarantee, and the inertia."""
    k = centers.shape[0]
    labels, min_dists = _assign(x, x_sq, centers)
    counts = jnp.sum(jax.nn.one_hot(labels, k, dtype=x.dtype), axis=0)
    n = x.shape[0]
    # A centre that attracts no point is moved onto the farthest point;
    # that only lowers the inertia.
    order, valid = _empty_first(counts)
    moved = lax.top_k(min_dists, k)[1]
    new_centers = x[moved]
    if cosine:
        new_centers = _normalize(new_centers)
    target = jnp.where(valid, order, k)
    centers = centers.at[target].set(new_centers, mode="drop")
    labels = labels.at[jnp.where(valid, moved, n)].set(
        order.astype(labels.dtype), mode="drop"
    )
    diff = x - centers[labels]
    inertia = jnp.sum(diff * diff)
    if cosine:
        inertia = 0.5 * inertia  # ||a - b||^2 = 2 (1 - cos) for unit vectors
    return centers, labels, inertia


def _lloyd(x, x_sq, centers, num_iters, tol_abs, cosine):
    def cond(state):
        it, _, _, shift, unchanged = state
        return (it < num_iters) & ~unchanged & (shift > tol_abs)

    def body(state):
        it, centers, labels, _, _ = state
        new_labels, min_dists = _assign(x, x_sq, centers)
        unchanged = jnp.all(new_labels == labels)
        new_centers, _ = _centers_from(x, new_labels, min_dists, centers, cosine)
        shift = jnp.sum((new_centers - centers) ** 2)
        return it + 1, new_centers, new_labels, shift, unchanged

    labels = jnp.full((x.shape[0],), -1, jnp.int32)
    init = (jnp.int32(0), centers, labels, jnp.asarray(jnp.inf, x.dtype), False)
    return lax.while_loop(cond, body, init)[1]


def _minibatch(x, x_sq, centers, rng, num_iters, batch_size, cosine):
    """Mini-batch k-means (Sculley 2010) with per-centre learning rates."""
    n = x.shape[0]
    k = centers.shape[0]

    def step(i, carry):
        centers, totals = carry
        idx = jax.random.randint(jax.random.fold_in(rng, i), (batch_size,), 0, n)
        xb = x[idx]
        labels, _ = _assign(xb, x_sq[idx], centers)
        one_hot = jax.nn.one_hot(labels, k, dtype=x.dtype)
        counts = jnp.sum(one_hot, axis=0)
        sums = jnp.matmul(one_hot.T, xb, precision=HIGHEST)
        new_totals = totals + counts
        # Running mean: centre <- (centre * seen + batch sum) / (seen + batch).
        updated = (centers * totals[:, None] + sums) / jnp.maximum(new_totals, 1.0)[
            :, None
        ]
        if cosine:
            updated = _normalize(updated)
        centers = jnp.where((counts > 0)[:, None], updated, centers)
        return centers, new_totals

    totals = jnp.zeros((k,), x.dtype)
    return lax.fori_loop(0, num_iters, step, (centers, totals))[0]


@functools.partial(
    jax.jit,
    static_argnames=(
        "num_clusters",
        "num_iters",
        "num_restarts",
        "variant",
        "metric",
        "batch_size",
        "parallel_restarts",
    ),
)
def kmeans(
    x: jax.typing.ArrayLike,
    num_clusters: int,
    rng: jax.Array,
    num_iters: int = 100,
    *,
    num_restarts: int = 1,
    tol: float = 1e-4,
    variant: str = "lloyd",
    metric: str = "euclidean",
    batch_size: int = 1024,
    parallel_restarts: bool = False,
) -> KMeansResult:
    """Cluster points with k-means, keeping the best of several restarts.

    Each restart seeds with greedy k-means++ (``2 + log k`` candidates per
    centre, as scikit-learn), then runs Lloyd iterations in a
    ``lax.while_loop`` until the labels stop changing, the summed squared
    centre shift drops to ``tol * mean feature variance`` (scikit-learn's
    criterion), or ``num_iters`` is reached. A cluster that empties is
    re-seeded with the point farthest from its centre. The data are centred
    first (as scikit-learn does) for float32 accuracy.

    Example:
      >>> x = jax.random.normal(jax.random.key(0), (100, 2))
      >>> centroids, labels, inertia = kmeans(x, 3, jax.random.key(1))

    Args:
      x: [num_points, dim] data (integers are cast to float32).
      num_clusters: number of clusters k (static), at most ``num_points``.
      rng: typed PRNG key (``jax.random.key``).
      num_iters: maximum Lloyd iterations, or the number of mini-batch steps
        for ``variant="minibatch"``.
      num_restarts: independent seedings; the lowest-inertia one is returned.
      tol: relative tolerance on the centre shift (Lloyd only).
      variant: ``"lloyd"`` (exact batch iterations) or ``"minibatch"``
        (Sculley's mini-batch updates of ``batch_size`` points, seeded from a
        random subsample of ``3 * batch_size`` points; for large data).
      metric: ``"euclidean"`` or ``"cosine"`` (spherical k-means: rows and
        centres are L2-normalised; suited to embeddings).
      batch_size: mini-batch size for ``variant="minibatch"``.
      parallel_restarts: ``vmap`` the restarts (faster on accelerators, more
        memory) instead of running them one after another with ``lax.map``.

    Returns:
      ``KMeansResult(centroids [k, dim], labels [num_points] int32, inertia)``,
      centroids in the input's coordinates (unit vectors for cosine).

    Raises:
      ValueError: on a bad shape, ``num_clusters``, ``variant`` or ``metric``.

    References:
      Lloyd, "Least squares quantization in PCM", 1982.
      Arthur & Vassilvitskii, "k-means++: the advantages of careful seeding",
      SODA 2007.
      Sculley, "Web-scale k-means clustering", WWW 2010.
      Dhillon & Modha, "Concept decompositions for large sparse text data
      using clustering", Machine Learning 2001 (spherical k-means).
    """
    x = as_float_matrix(x)
    n = x.shape[0]
    if not 1 <= num_clusters <= n:
        raise ValueError(f"num_clusters={num_clusters} must be in [1, {n}]")
    if variant not in _VARIANTS:
        raise ValueError(f"variant={variant!r}; allowed: {_VARIANTS}")
    if metric not in _METRICS:
        raise ValueError(f"metric={metric!r}; allowed: {_METRICS}")
    if num_restarts < 1 or num_iters < 0 or batch_size < 1:
        raise ValueError(
            f"num_restarts={num_restarts}, num_iters={num_iters} and "
            f"batch_size={batch_size} must be positive"
        )
    cosine = metric == "cosine"
    if cosine:
        x = _normalize(x)
        offset = jnp.zeros((x.shape[1],), x.dtype)
    else:
        offset = jnp.mean(x, axis=0)
        x = x - offset[None, :]
    x_sq = jnp.sum(x * x, axis=-1)
    tol_abs = tol * jnp.mean(jnp.var(x, axis=0))
    trials = 2 + int(math.log(num_clusters))
    num_uniforms = 1 + num_clusters * trials

    if variant == "lloyd":
        # All seeding randomness in one draw: a single RNG kernel to compile.
        inputs = jax.random.uniform(rng, (num_restarts, num_uniforms), x.dtype)

        def run(uniforms):
            centers = _kmeans_plusplus(x, x_sq, num_clusters, uniforms)
            centers = _lloyd(x, x_sq, centers, num_iters, tol_abs, cosine)
            return _finalize(x, x_sq, centers, cosine)

    else:
        inputs = jax.random.split(rng, num_restarts)

        def run(rng_restart):
            rng_seed, rng_sub, rng_steps = jax.random.split(rng_restart, 3)
            uniforms = jax.random.uniform(rng_seed, (num_uniforms,), x.dtype)
            size = max(min(n, 3 * batch_size), num_clusters)
            sub = jax.random.choice(rng_sub, n, (size,), replace=False)
            centers = _kmeans_plusplus(x[sub], x_sq[sub], num_clusters, uniforms)
            centers = _minibatch(
                x, x_sq, centers, rng_steps, num_iters, batch_size, cosine
            )
            return _finalize(x, x_sq, centers, cosine)

    centers, labels, inertias = lax.map(
        run, inputs, batch_size=num_restarts if parallel_restarts else None
    )
    best = jnp.argmin(inertias)
    return KMeansResult(centers[best] + offset[None, :], labels[best], inertias[best])


@functools.partial(jax.jit, static_argnames=("num_clusters",))
def kmeans_plusplus(
    x: jax.typing.ArrayLike, num_clusters: int, rng: jax.Array
) -> jax.Array:
    """Choose initial centres by greedy k-means++ seeding.

    Args:
      x: [num_points, dim] data.
      num_clusters: number of centres k (static).
      rng: typed PRNG key.

    Returns:
      [k, dim] centres, each one of the rows of ``x``.

    References:
      Arthur & Vassilvitskii, "k-means++: the advantages of careful seeding",
      SODA 2007.
    """
    x = as_float_matrix(x)
    if not 1 <= num_clusters <= x.shape[0]:
        raise ValueError(f"num_clusters={num_clusters} must be in [1, {x.shape[0]}]")
    offset = jnp.mean(x, axis=0)
    xc = x - offset[None, :]
    trials = 2 + int(math.log(num_clusters))
    uniforms = jax.random.uniform(rng, (1 + num_clusters * trials,), x.dtype)
    centers = _kmeans_plusplus(xc, jnp.sum(xc * xc, axis=-1), num_clusters, uniforms)
    return centers + offset[None, :]


@jax.jit
def kmeans_predict(
    centroids: jax.typing.ArrayLike, x: jax.typing.ArrayLike
) -> jax.Array:
    """Return the index of the nearest centroid for each row of ``x``.

    Args:
      centroids: [k, dim] from :func:`kmeans`.
      x: [num_points, dim].

    Returns:
      [num_points] int32 labels (squared Euclidean distance; for cosine
      k-means, normalise ``x`` first).
    """
    x = as_float_matrix(x)
    centroids = jnp.asarray(centroids, x.dtype)
    offset = jnp.mean(centroids, axis=0)
    xc = x - offset[None, :]
    return _assign(xc, jnp.sum(xc * xc, axis=-1), centroids - offset[None, :])[0]
