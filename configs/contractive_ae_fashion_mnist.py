"""Contractive autoencoder on Fashion-MNIST (encoder Jacobian by reverse mode).

Launch:
  jaxssl train configs/contractive_ae_fashion_mnist.py --workdir runs/contractive_ae_fashion_mnist
"""

from jaxssl.config_utils import load_sibling


def get_config():
    config = load_sibling(__file__, "autoencoder_fashion_mnist")
    config.method.code_activation = "sigmoid"
    config.method.contractive_weight = 0.01
    return config
