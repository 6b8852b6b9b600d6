"""Agglomerative clustering: Ward, average, complete or single linkage.

A fixed-shape Lance-Williams algorithm, so it runs under ``jax.jit`` and on
accelerators: the [n, n] dissimilarity matrix stays on the device, each of the
``n - 1`` merges updates one row and column, and each row caches its nearest
neighbour. All four linkages are *reducible* (a merged cluster is never closer
to a third cluster than the nearer of its parts), so only rows whose cached
neighbour took part in the merge need a rescan. Typical cost is O(n^2) time and
memory; the worst case is O(n^3) time. The output is scipy's linkage-matrix
format, so ``scipy.cluster.hierarchy`` can plot or cut it.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax import lax

from jaxssl.classical._common import as_float_matrix, pairwise_sq_distances

_LINKAGES = ("ward", "average", "complete", "single")
_RESCAN_ROWS = 16


def _lance_williams(linkage, d_ka, d_kb, d_ab, n_a, n_b, n_k):
    """Dissimilarity from every cluster k to the merge of a and b."""
    if linkage == "ward":  # on squared distances
        total = n_a + n_b + n_k
        return ((n_a + n_k) * d_ka + (n_b + n_k) * d_kb - n_k * d_ab) / total
    if linkage == "average":
        return (n_a * d_ka + n_b * d_kb) / (n_a + n_b)
    if linkage == "complete":
        return jnp.maximum(d_ka, d_kb)
    return jnp.minimum(d_ka, d_kb)


def _merge_all(x, num_clusters, linkage):
    n = x.shape[0]
    dtype = x.dtype
    inf = jnp.asarray(jnp.inf, dtype)
    idx = jnp.arange(n)
    dist = pairwise_sq_distances(x)
    if linkage != "ward":
        dist = jnp.sqrt(dist)
    dist = jnp.where(idx[:, None] == idx[None, :], inf, dist)
    nn_idx = jnp.argmin(dist, axis=1).astype(jnp.int32)
    nn_dist = jnp.min(dist, axis=1)

    def rescan(dist, nn_idx, nn_dist, needs):
        """Recompute the cached nearest neighbour of each flagged row."""

        def cond(state):
            return jnp.any(state[2])

        def body(state):
            nn_idx, nn_dist, needs = state
            # Up to _RESCAN_ROWS flagged rows per pass (n = none left).
            rows = jnp.nonzero(needs, size=min(_RESCAN_ROWS, n), fill_value=n)[0]
            values = dist[jnp.minimum(rows, n - 1)]  # [m, n]
            nn_idx = nn_idx.at[rows].set(
                jnp.argmin(values, axis=1).astype(jnp.int32), mode="drop"
            )
            nn_dist = nn_dist.at[rows].set(jnp.min(values, axis=1), mode="drop")
            return nn_idx, nn_dist, needs.at[rows].set(False, mode="drop")

        return lax.while_loop(cond, body, (nn_idx, nn_dist, needs))[:2]

    def merge(t, state):
        dist, nn_idx, nn_dist, sizes, ids, active, owner, owner_cut, z = state
        i = jnp.argmin(jnp.where(active, nn_dist, inf))
        j = nn_idx[i]
        a, b = jnp.minimum(i, j), jnp.maximum(i, j)
        height = nn_dist[i]
        n_a, n_b = sizes[a], sizes[b]
        new = _lance_williams(linkage, dist[a], dist[b], dist[a, b], n_a, n_b, sizes)
        keep = active & (idx != a) & (idx != b)
        new = jnp.where(keep, new, inf)
        dist = dist.at[a, :].set(new).at[:, a].set(new)
        dist = dist.at[b, :].set(inf).at[:, b].set(inf)
        active = active.at[b].set(False)
        sizes = sizes.at[a].set(n_a + n_b)
        merged_height = jnp.sqrt(height) if linkage == "ward" else height
        row = jnp.stack(
            [
                jnp.minimum(ids[a], ids[b]).astype(dtype),
                jnp.maximum(ids[a], ids[b]).astype(dtype),
                merged_height,
                (n_a + n_b).astype(dtype),
            ]
        )
        z = z.at[t].set(row)
        ids = ids.at[a].set(n + t)
        owner = jnp.where(owner == b, a, owner)
        owner_cut = jnp.where(t == n - num_clusters - 1, owner, owner_cut)
        # Rows pointing at a or b may now have a farther nearest neighbour;
        # reducibility guarantees no other row's cached neighbour changes,
        # but a merged row can become a (tied) nearer neighbour: take it.
        closer = keep & (new < nn_dist)
        nn_idx = jnp.where(closer, a, nn_idx).astype(jnp.int32)
        nn_dist = jnp.where(closer, new, nn_dist)
        needs = keep & ((nn_idx == a) | (nn_idx == b)) & ~closer
        needs = needs.at[a].set(True)
        nn_idx, nn_dist = rescan(dist, nn_idx, nn_dist, needs & active)
        return dist, nn_idx, nn_dist, sizes, ids, active, owner, owner_cut, z

    state = (
        dist,
        nn_idx,
        nn_dist,
        jnp.ones((n,), jnp.int32),
        jnp.arange(n, dtype=jnp.int32),
        jnp.ones((n,), bool),
        jnp.arange(n, dtype=jnp.int32),
        jnp.arange(n, dtype=jnp.int32),
        jnp.zeros((n - 1, 4), dtype),
    )
    state = lax.fori_loop(0, n - 1, merge, state)
    owner_cut, z = state[7], state[8]
    # Number the clusters 0..k-1 in order of their first point.
    is_root = jnp.zeros((n,), jnp.int32).at[owner_cut].set(1)
    labels = (jnp.cumsum(is_root) - 1)[owner_cut].astype(jnp.int32)
    return z, labels


def _check(x, linkage):
    x = as_float_matrix(x)
    if linkage not in _LINKAGES:
        raise ValueError(f"linkage={linkage!r}; allowed: {_LINKAGES}")
    if x.shape[0] < 2:
        raise ValueError(f"need at least 2 points, got {x.shape[0]}")
    return x


@functools.partial(jax.jit, static_argnames=("num_clusters", "linkage"))
def agglomerative(
    x: jax.typing.ArrayLike, num_clusters: int, *, linkage: str = "ward"
) -> tuple[jax.Array, jax.Array]:
    """Cluster points bottom-up and cut the tree at ``num_clusters`` clusters.

    Example:
      >>> labels, z = agglomerative(x, 10, linkage="ward")
      >>> # scipy.cluster.hierarchy.dendrogram(np.asarray(z)) draws the tree.

    Args:
      x: [num_points, dim] data (Euclidean distances).
      num_clusters: where to cut (static), in ``[1, num_points]``.
      linkage: ``"ward"`` (minimum increase of within-cluster variance),
        ``"average"`` (UPGMA), ``"complete"`` or ``"single"``.

    Returns:
      ``(labels [num_points] int32, linkage_matrix [num_points - 1, 4])``: the
      cut's cluster of each point (numbered by first appearance) and the
      whole tree in scipy's format (merged ids, height, size; heights are
      scipy's, e.g. Ward's is ``sqrt(2 * increase in SSE)``).

    Raises:
      ValueError: on a bad shape, ``num_clusters`` or ``linkage``.

    References:
      Ward, "Hierarchical grouping to optimize an objective function", JASA
      1963.
      Lance & Williams, "A general theory of classificatory sorting
      strategies", The Computer Journal 1967.
      Müllner, "Modern hierarchical, agglomerative clustering algorithms",
      2011, https://arxiv.org/abs/1109.2378
    """
    x = _check(x, linkage)
    if not 1 <= num_clusters <= x.shape[0]:
        raise ValueError(f"num_clusters={num_clusters} must be in [1, {x.shape[0]}]")
    x = x - jnp.mean(x, axis=0)[None, :]
    z, labels = _merge_all(x, num_clusters, linkage)
    return labels, z


def linkage_matrix(x: jax.typing.ArrayLike, *, linkage: str = "ward") -> jax.Array:
    """Return only the merge tree of :func:`agglomerative` (scipy's format)."""
    return agglomerative(x, 1, linkage=linkage)[1]
