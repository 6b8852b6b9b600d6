"""Pure loss functions: arrays in, ``jax.Array`` out (no Flax modules, no I/O)."""

from jaxssl.losses.reconstruction import bernoulli_nll, mse

__all__ = ["bernoulli_nll", "mse"]
