"""Pure loss functions: arrays in, ``jax.Array`` out (no Flax modules, no I/O)."""

from jaxssl.losses.autoencoder import (
    contractive_penalty,
    contractive_penalty_jacrev,
    sigmoid_contractive_penalty,
    sparse_kl_penalty,
)
from jaxssl.losses.contrastive import (
    byol_loss,
    cpc_loss,
    info_nce,
    info_nce_local,
    multiview_nce,
    nt_xent,
    nt_xent_local,
)
from jaxssl.losses.fewshot import matching_loss, prototypical_loss
from jaxssl.losses.reconstruction import bernoulli_nll, mse
from jaxssl.losses.vae import elbo, gaussian_kl, iwae_bound

__all__ = [
    "bernoulli_nll",
    "byol_loss",
    "contractive_penalty",
    "contractive_penalty_jacrev",
    "cpc_loss",
    "elbo",
    "gaussian_kl",
    "info_nce",
    "info_nce_local",
    "iwae_bound",
    "matching_loss",
    "mse",
    "multiview_nce",
    "nt_xent",
    "nt_xent_local",
    "prototypical_loss",
    "sigmoid_contractive_penalty",
    "sparse_kl_penalty",
]
