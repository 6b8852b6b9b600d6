"""Sparse overcomplete autoencoder on Fashion-MNIST (KL to a 5% target).

Launch:
  jaxssl train configs/sparse_ae_fashion_mnist.py --workdir runs/sparse_ae_fashion_mnist
"""

from jaxssl.config_utils import load_sibling


def get_config():
    config = load_sibling(__file__, "autoencoder_fashion_mnist")
    config.model.latent_dim = 1024  # Overcomplete: more codes than 784 pixels.
    config.method.code_activation = "sigmoid"
    config.method.sparsity_weight = 0.1
    config.method.sparsity_target = 0.05
    return config
