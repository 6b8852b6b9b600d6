"""Convolutional autoencoder on digits (8x8 -> 4x4 -> 2x2 feature maps).

Launch:
  jaxssl train configs/conv_ae_digits.py --workdir runs/conv_ae_digits
"""

from jaxssl.config_utils import load_sibling


def get_config():
    config = load_sibling(__file__, "autoencoder_digits")
    config.model.name = "conv"
    config.model.features = (32, 64)
    config.model.conv_impl = "patches"  # Faster than lax.conv on XLA:CPU.
    return config
