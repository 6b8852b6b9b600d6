"""Global-batch contrastive losses and MoCo's queue under per-device code.

SimCLR and MoCo draw their negatives from the whole global batch, not just
the examples one device holds. How that happens depends on how the step is
parallelised (see ``jaxssl.parallel``):

* ``jax.jit`` over a mesh (the trainer's default): the objective sees the
  global batch as one sharded array and XLA inserts the collectives, so the
  plain losses of ``jaxssl.losses`` are already global. Pass
  ``axis_name=None``.
* ``jax.pmap`` / ``jax.shard_map``: the objective sees this device's rows
  only. The functions below all-gather the embeddings over ``axis_name``
  (``lax.all_gather(..., tiled=True)``), score this device's anchors against
  every device's rows (``nt_xent_local``/``info_nce_local`` with the row
  offset ``axis_index * rows``), and return this device's loss. The mean of
  that loss over devices is the global-batch loss, and the mean of its
  gradients is the global-batch gradient (the all-gather's transpose sums the
  other devices' gradient contributions back onto each device's rows), which
  is exactly the ``lax.pmean`` that ``DataParallel.reduce`` applies under
  pmap.

:func:`fifo_enqueue` keeps MoCo's queue of negatives as a ring buffer and
writes the gathered global batch of keys, so the replicated queues agree.

The losses stay free of ``axis_name`` (the purity rule for ``jaxssl.losses``);
the collectives live here.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from jaxssl.losses.contrastive import info_nce_local, nt_xent_local
from jaxssl.methods.base import MethodBase
from jaxssl.parallel import AXIS


def bound_axis_name(axis_name: str = AXIS) -> str | None:
    """Return ``axis_name`` if the code being traced is mapped over it, else None.

    Inside ``jax.pmap(..., axis_name=AXIS)`` or a ``jax.shard_map`` over a mesh
    with that axis, collectives over it are available; under plain ``jax.jit``
    (even with sharded inputs) they are not and the batch is already global.
    A method can pass ``axis_name=bound_axis_name()`` to the functions below
    and run unchanged under both parallel modes of the trainer.

    Args:
      axis_name: the mapped axis to look for (the trainer's is ``"data"``).

    Returns:
      ``axis_name`` or ``None``.
    """
    try:
        jax.lax.axis_size(axis_name)
    except NameError:
        return None
    return axis_name


def gather_rows(x: ArrayLike, axis_name: str | None) -> jax.Array:
    """Concatenate every device's rows along axis 0 (identity for None).

    Args:
      x: [n, ...] this device's rows.
      axis_name: the mapped axis, or ``None`` outside per-device code.

    Returns:
      [n * num_devices, ...], device 0's rows first; ``x`` if ``axis_name`` is
      None.
    """
    if axis_name is None:
        return jnp.asarray(x)
    return jax.lax.all_gather(x, axis_name, axis=0, tiled=True)


def _row_offset(rows: int, axis_name: str | None) -> jax.Array | int:
    if axis_name is None:
        return 0
    return jax.lax.axis_index(axis_name) * rows


def global_nt_xent(
    z1: ArrayLike,
    z2: ArrayLike,
    *,
    temperature: float | ArrayLike = 0.5,
    axis_name: str | None = None,
) -> jax.Array:
    """Compute this device's share of SimCLR's NT-Xent over the global batch.

    Args:
      z1: [n, D] this device's first-view embeddings.
      z2: [n, D] this device's second-view embeddings.
      temperature: softmax temperature (> 0).
      axis_name: the mapped device axis (``bound_axis_name()``), or None when
        ``z1``/``z2`` already hold the global batch (``jax.jit``).

    Returns:
      Scalar float32: the mean loss of this device's ``2n`` anchors against
      all ``2 n num_devices`` rows. Averaged over devices (``lax.pmean``), the
      loss and its gradients equal ``nt_xent`` on the global batch.

    References:
      Chen et al., "A Simple Framework for Contrastive Learning of Visual
      Representations" (ICML 2020), https://arxiv.org/abs/2002.05709
      (Section 2.2: global BN and negatives aggregated over all cores).
    """
    z1, z2 = jnp.asarray(z1), jnp.asarray(z2)
    return nt_xent_local(
        z1,
        z2,
        gather_rows(z1, axis_name),
        gather_rows(z2, axis_name),
        offset=_row_offset(z1.shape[0], axis_name),
        temperature=temperature,
    )


def global_info_nce(
    anchors: ArrayLike,
    positives: ArrayLike,
    *,
    temperature: float | ArrayLike = 0.1,
    negatives: ArrayLike | None = None,
    in_batch_negatives: bool = True,
    axis_name: str | None = None,
) -> jax.Array:
    """Compute this device's share of InfoNCE with every device's positives.

    The positives (MoCo's keys) of all devices are gathered, so each anchor's
    in-batch negatives come from the global batch; ``negatives`` (a queue,
    replicated on every device) are used as given.

    Args:
      anchors: [n, D] this device's anchors (queries).
      positives: [n, D] this device's positives (keys).
      temperature: softmax temperature (> 0).
      negatives: optional [M, D] extra negatives, the same on every device.
      in_batch_negatives: whether other positives are negatives (see
        ``jaxssl.losses.info_nce``).
      axis_name: the mapped device axis, or None for a global batch.

    Returns:
      Scalar float32: the mean loss of this device's anchors. Averaged over
      devices, the loss and its gradients equal ``info_nce`` on the global
      batch.
    """
    anchors, positives = jnp.asarray(anchors), jnp.asarray(positives)
    if anchors.shape != positives.shape:
        raise ValueError(
            f"global_info_nce: anchors {anchors.shape} and positives "
            f"{positives.shape} must have the same shape [batch, dim]"
        )
    return info_nce_local(
        anchors,
        gather_rows(positives, axis_name),
        offset=_row_offset(anchors.shape[0], axis_name),
        temperature=temperature,
        negatives=negatives,
        in_batch_negatives=in_batch_negatives,
    )


def fifo_enqueue(
    queue: ArrayLike,
    pointer: ArrayLike,
    keys: ArrayLike,
    *,
    axis_name: str | None = None,
) -> tuple[jax.Array, jax.Array]:
    """Write the global batch's keys into a ring-buffer queue (MoCo).

    The keys of every device are gathered first (device 0's rows first), so
    every device writes the same global batch and replicated queues stay
    identical: MoCo's queue must hold the global batch's keys, not one
    device's. Gradients do not flow into the queue.

    Args:
      queue: [K, D] the queue (MoCo initialises it with random unit rows).
      pointer: int32 scalar, the slot the next batch is written to.
      keys: [b, D] this device's keys (the global batch under ``jax.jit``).
      axis_name: the mapped device axis, or None.

    Returns:
      ``(queue, pointer)``: rows ``pointer .. pointer + B`` replaced by the B
      global keys, and ``(pointer + B) % K``. :func:`queue_in_order` reads
      the queue oldest first.

    Raises:
      ValueError: if K is not a multiple of the global batch B (MoCo's
        assumption, which keeps every write contiguous) or the dims differ.

    References:
      He et al., "Momentum Contrast for Unsupervised Visual Representation
      Learning" (CVPR 2020), https://arxiv.org/abs/1911.05722 (Algorithm 1)
    """
    queue = jnp.asarray(queue)
    keys = gather_rows(jax.lax.stop_gradient(jnp.asarray(keys)), axis_name)
    if queue.ndim != 2 or keys.ndim != 2 or queue.shape[1] != keys.shape[1]:
        raise ValueError(
            f"fifo_enqueue: queue [K, D] and keys [B, D] must share D, got queue "
            f"{queue.shape} and (global) keys {keys.shape}"
        )
    size, batch = queue.shape[0], keys.shape[0]
    if size % batch:
        raise ValueError(
            f"fifo_enqueue: the queue size {size} must be a multiple of the global "
            f"batch {batch}"
        )
    pointer = jnp.asarray(pointer, jnp.int32)
    queue = jax.lax.dynamic_update_slice_in_dim(
        queue, keys.astype(queue.dtype), pointer, axis=0
    )
    return queue, (pointer + batch) % size


def queue_in_order(queue: ArrayLike, pointer: ArrayLike) -> jax.Array:
    """The rows of a :func:`fifo_enqueue` queue, oldest first: [K, D]."""
    return jnp.roll(jnp.asarray(queue), -jnp.asarray(pointer, jnp.int32), axis=0)


class BatchContrastiveMethod(MethodBase):
    """``make_objective`` for methods without non-differentiated state.

    Subclasses define ``_loss(params, images, rng, axis_name) -> (loss,
    metrics)``; the objective calls it with ``bound_axis_name()``, so under
    ``pmap`` the loss gathers the global batch and under sharded ``jit`` (no
    bound axis) it already sees it.
    """

    def make_objective(self, extra):
        del extra  # No non-differentiated state.

        def objective(params, batch, rng: jax.Array):
            loss, metrics = self._loss(params, batch["image"], rng, bound_axis_name())
            return loss, {"metrics": metrics}

        return objective
