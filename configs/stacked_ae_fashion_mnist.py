"""Stacked autoencoder on Fashion-MNIST: 3 greedy layers, then fine-tuning.

Launch:
  jaxssl train configs/stacked_ae_fashion_mnist.py --workdir runs/stacked_ae_fashion_mnist
"""

from jaxssl.config_utils import load_sibling


def get_config():
    config = load_sibling(__file__, "autoencoder_fashion_mnist")
    config.method = dict(name="stacked_autoencoder", steps_per_layer=1200)
    config.optim.schedule = dict(name="constant")
    return config
