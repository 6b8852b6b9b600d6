"""Pure loss functions: arrays in, ``jax.Array`` out (no Flax modules, no I/O)."""

from jaxssl.losses.autoencoder import (
    contractive_penalty,
    contractive_penalty_jacrev,
    sigmoid_contractive_penalty,
    sparse_kl_penalty,
)
from jaxssl.losses.reconstruction import bernoulli_nll, mse
from jaxssl.losses.vae import elbo, gaussian_kl, iwae_bound

__all__ = [
    "bernoulli_nll",
    "contractive_penalty",
    "contractive_penalty_jacrev",
    "elbo",
    "gaussian_kl",
    "iwae_bound",
    "mse",
    "sigmoid_contractive_penalty",
    "sparse_kl_penalty",
]
