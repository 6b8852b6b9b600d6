"""Convolutional autoencoder on Fashion-MNIST (28 -> 14 -> 7).

Launch:
  jaxssl train configs/conv_ae_fashion_mnist.py --workdir runs/conv_ae_fashion_mnist
"""

from jaxssl.config_utils import load_sibling


def get_config():
    config = load_sibling(__file__, "autoencoder_fashion_mnist")
    config.model.name = "conv"
    config.model.features = (32, 64)
    config.model.conv_impl = "patches"  # Faster than lax.conv on XLA:CPU.
    config.train.total_steps = 3000
    return config
