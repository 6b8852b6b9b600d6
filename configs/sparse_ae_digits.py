"""Sparse overcomplete autoencoder on digits: sigmoid codes, KL to a 5% target.

Launch:
  jaxssl train configs/sparse_ae_digits.py --workdir runs/sparse_ae_digits
"""

from jaxssl.config_utils import load_sibling


def get_config():
    config = load_sibling(__file__, "autoencoder_digits")
    config.model.latent_dim = 128  # Overcomplete: 128 codes for 64 pixels.
    config.method.code_activation = "sigmoid"
    config.method.sparsity_weight = 0.1
    config.method.sparsity_target = 0.05
    return config
