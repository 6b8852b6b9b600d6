"""Denoising autoencoder on Fashion-MNIST (Gaussian noise, std 0.4).

Launch:
  jaxssl train configs/denoising_ae_fashion_mnist.py --workdir runs/denoising_ae_fashion_mnist
"""

from jaxssl.config_utils import load_sibling


def get_config():
    config = load_sibling(__file__, "autoencoder_fashion_mnist")
    config.method.noise = "noise(std=0.4)"
    config.method.eval_noise = "noise(std=0.4)"
    return config
