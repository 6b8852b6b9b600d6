"""Contractive autoencoder on digits: Jacobian-norm penalty on the encoder.

Launch:
  jaxssl train configs/contractive_ae_digits.py --workdir runs/contractive_ae_digits
"""

from jaxssl.config_utils import load_sibling


def get_config():
    config = load_sibling(__file__, "autoencoder_digits")
    config.method.code_activation = "sigmoid"
    config.method.contractive_weight = 0.01
    return config
