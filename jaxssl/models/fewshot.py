"""Few-shot backbones: the conv4 embedding of Matching Nets, ProtoNets and MAML.

Four blocks of (3x3 conv, ``features`` channels) -> norm -> ReLU -> 2x2 max-pool,
then flatten. On 28x28 inputs the spatial size goes 28 -> 14 -> 7 -> 3 -> 1, so
the embedding has ``features`` (64) dimensions; on 84x84 it is 5x5x64 = 1600.

Normalisation is a choice, and both choices are stateless on purpose:

- ``norm="none"``: no norm layer. The simplest model for MAML: the inner loop
  differentiates a plain function of the parameters.
- ``norm="transductive"``: batch norm that always uses the statistics of the
  batch it is given (mean and variance over batch and spatial axes), with a
  learned per-channel scale and offset and no running averages. This is how
  the MAML paper runs batch norm (its test batches are normalised with their
  own statistics, "transductive"), and it keeps every forward pass a pure
  function of ``(params, images)``: nothing to thread through ``jax.grad`` of
  an inner loop or ``jax.vmap`` over tasks. Its outputs depend on the whole
  batch, so embed an episode's support and query images in one call.

Running-average batch norm (Flax ``nn.BatchNorm``) is not offered: it needs a
mutable ``batch_stats`` collection, and few-shot evaluation on novel classes
with running statistics from the base classes is known to hurt.

The conv follows :class:`jaxssl.models.Conv` and can use ``conv_impl=
"patches"`` (shifted slices + one matmul), which on XLA:CPU is faster than
``lax.conv`` and stays a batched matmul when ``jax.vmap`` maps over per-task
weights (DESIGN.md "Speed facts"). The max-pool is a reshape + max for the
same reason.

References:
  Vinyals et al., "Matching Networks for One Shot Learning" (2016),
  https://arxiv.org/abs/1606.04080
  Snell, Swersky & Zemel, "Prototypical Networks for Few-shot Learning"
  (2017), https://arxiv.org/abs/1703.05175
  Finn, Abbeel & Levine, "Model-Agnostic Meta-Learning" (2017),
  https://arxiv.org/abs/1703.03400
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxssl.models.layers import Conv

CONV4_NORMS = ("none", "transductive")


def max_pool_2x2(x: jax.Array) -> jax.Array:
    """2x2 max-pool with stride 2 (VALID: an odd last row/column is dropped).

    Args:
      x: [batch, height, width, channels].

    Returns:
      [batch, height // 2, width // 2, channels].
    """
    batch, height, width, channels = x.shape
    h, w = height // 2, width // 2
    x = x[:, : 2 * h, : 2 * w].reshape(batch, h, 2, w, 2, channels)
    return x.max(axis=(2, 4))


class TransductiveNorm(nn.Module):
    """Batch norm with the current batch's statistics only (no running stats).

    Normalises each channel by the mean and variance over the batch and
    spatial axes of the input, then applies a learned scale and offset.
    """

    epsilon: float = 1e-5

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        channels = x.shape[-1]
        scale = self.param("scale", nn.initializers.ones, (channels,))
        bias = self.param("bias", nn.initializers.zeros, (channels,))
        axes = tuple(range(x.ndim - 1))
        mean = x.mean(axis=axes, keepdims=True)
        var = jnp.square(x - mean).mean(axis=axes, keepdims=True)
        y = (x - mean) * jax.lax.rsqrt(var + self.epsilon)
        shape = (1,) * (x.ndim - 1) + (channels,)
        return y * scale.reshape(shape) + bias.reshape(shape)


class Conv4(nn.Module):
    """The conv4 few-shot backbone: 4 x (conv 3x3 -> norm -> ReLU -> max-pool 2x2).

    Attributes:
      features: channels of every conv (64 in the papers).
      norm: ``"none"`` or ``"transductive"`` (see the module docstring).
      conv_impl: ``"lax"`` or ``"patches"`` (see :mod:`jaxssl.models.layers`).
      num_blocks: conv blocks (4 for conv4).
      pool_last: max-pool after the last block too (the papers' conv4).
        ``False`` keeps the last feature map whole: 3x3x``features`` (576)
        dimensions on 28x28 inputs instead of 1x1x``features``. On small
        images the 1x1 map throws away the spatial layout that transfer to
        unseen classes needs (on the Fashion-MNIST class split a random
        conv4's nearest-centroid accuracy drops below raw pixels).

    Input ``[batch, height, width, channels]`` float images (height and width
    at least 2 to the number of max-pools); output ``[batch, D]``, the flattened last
    feature map (D = ``features`` for 28x28 inputs).
    """

    features: int = 64
    norm: str = "none"
    conv_impl: str = "patches"
    num_blocks: int = 4
    pool_last: bool = True

    @nn.compact
    def __call__(self, images: jax.Array) -> jax.Array:
        if self.norm not in CONV4_NORMS:
            raise ValueError(f"model.norm={self.norm!r} is not one of: {CONV4_NORMS}")
        if images.ndim != 4:
            raise ValueError(
                f"Conv4 expects images [batch, height, width, channels], got shape "
                f"{images.shape}"
            )
        num_pools = self.num_blocks - (0 if self.pool_last else 1)
        if min(images.shape[1:3]) < 2**num_pools:
            raise ValueError(
                f"Conv4: image size {images.shape[1:3]} is smaller than "
                f"2**{num_pools} (one halving per max-pool)"
            )
        x = images
        for block in range(self.num_blocks):
            # A bias before a norm layer is redundant (the norm removes it).
            x = Conv(self.features, impl=self.conv_impl, use_bias=self.norm == "none")(
                x
            )
            if self.norm == "transductive":
                x = TransductiveNorm()(x)
            x = nn.relu(x)
            if self.pool_last or block < self.num_blocks - 1:
                x = max_pool_2x2(x)
        return x.reshape(x.shape[0], -1)


class FullContextEmbedding(nn.Module):
    """Matching Networks' full-context embeddings (Vinyals et al., App. A.2).

    Re-embeds an episode's support and query embeddings so that each depends
    on the whole support set:

    - support, ``g``: a bidirectional LSTM reads the support embeddings in
      episode order; ``g(x_i) = h_fwd_i + h_bwd_i + x_i``.
    - query, ``f``: an LSTM run for ``process_steps`` steps with the query
      embedding as input at every step and read-attention over ``g``:
      ``a = softmax(h_{k-1} . g(x_i))``, ``r = sum_i a_i g(x_i)``,
      ``(c_k, h^_k) = LSTM(f'(x), state=(c_{k-1}, h_{k-1} + r))`` and
      ``h_k = h^_k + f'(x)``; the output is ``h_K``. The paper concatenates
      ``[h, r]`` as the LSTM's hidden state; the sum keeps the cell at the
      embedding's width, as common implementations do.

    Every LSTM has the embedding's width D, so the module adds about
    ``3 * 8 * D**2`` parameters (0.1 M for D = 64, 8 M for D = 576).

    Attributes:
      process_steps: K, the attention LSTM's steps (>= 1).

    Call with ``support [S, D]`` and ``query [Q, D]``; returns the pair
    ``(g [S, D], f [Q, D])``.
    """

    process_steps: int = 5

    @nn.compact
    def __call__(
        self, support: jax.Array, query: jax.Array
    ) -> tuple[jax.Array, jax.Array]:
        if support.ndim != 2 or query.ndim != 2 or support.shape[1] != query.shape[1]:
            raise ValueError(
                "FullContextEmbedding expects support [S, D] and query [Q, D], got "
                f"{support.shape} and {query.shape}"
            )
        if self.process_steps < 1:
            raise ValueError(
                f"method.fce_steps={self.process_steps!r} must be an integer >= 1"
            )
        dim = support.shape[1]
        bidirectional = nn.Bidirectional(
            nn.RNN(nn.OptimizedLSTMCell(dim, name="forward")),
            nn.RNN(nn.OptimizedLSTMCell(dim, name="backward")),
            merge_fn=jnp.add,
        )
        g = bidirectional(support[None])[0] + support
        cell = nn.OptimizedLSTMCell(dim, name="attention")
        h = query
        c = jnp.zeros_like(query)
        for _ in range(self.process_steps):
            attention = jax.nn.softmax(h @ g.T, axis=-1)  # [Q, S]
            read = attention @ g
            (c, h_hat), _ = cell((c, h + read), query)
            h = h_hat + query
        return g, h
