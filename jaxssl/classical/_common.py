"""Small helpers shared by the classical methods (private)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax

HIGHEST = lax.Precision.HIGHEST


def as_float_matrix(x: jax.typing.ArrayLike, name: str = "x") -> jax.Array:
    """Return ``x`` as a floating [n, d] array, raising on any other rank.

    Integer inputs (e.g. uint8 pixels) become float32; float inputs keep their
    dtype, so float64 data stays float64 when ``jax_enable_x64`` is on.
    """
    x = jnp.asarray(x)
    if x.ndim != 2:
        raise ValueError(f"{name} must be [num_points, dim], got shape {x.shape}")
    if not jnp.issubdtype(x.dtype, jnp.floating):
        x = x.astype(jnp.float32)
    return x


def sq_distances(
    x: jax.Array, centers: jax.Array, x_sq: jax.Array | None = None
) -> jax.Array:
    """Squared Euclidean distances by the matmul expansion, clipped at zero.

    Args:
      x: [n, d] points (centre them first: the expansion loses precision far
        from the origin).
      centers: [k, d].
      x_sq: optional precomputed [n] squared norms of ``x``.

    Returns:
      [n, k] squared distances.
    """
    if x_sq is None:
        x_sq = jnp.sum(x * x, axis=-1)
    c_sq = jnp.sum(centers * centers, axis=-1)
    cross = jnp.matmul(x, centers.T, precision=HIGHEST)
    return jnp.maximum(x_sq[:, None] - 2.0 * cross + c_sq[None, :], 0.0)


def pairwise_sq_distances(x: jax.Array, *, batch_size: int = 64) -> jax.Array:
    """Exact [n, n] squared distances by differences, computed row-block-wise.

    Slower than the matmul expansion but free of its cancellation error, which
    matters where small distances decide the answer (linkage heights, KDE).
    """

    def row(xi):
        diff = x - xi[None, :]
        return jnp.sum(diff * diff, axis=-1)

    return lax.map(row, x, batch_size=min(batch_size, x.shape[0]))
