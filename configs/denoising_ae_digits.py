"""Denoising autoencoder on digits: reconstruct clean digits from noisy ones.

Launch:
  jaxssl train configs/denoising_ae_digits.py --workdir runs/denoising_ae_digits

Compare with a plain autoencoder fed the same noisy test inputs
(``test_noisy_mse`` in each summary.json):
  jaxssl train configs/autoencoder_digits.py --workdir runs/ae_noisy_eval \
      --config.method.eval_noise="noise(std=0.4)"
"""

from jaxssl.config_utils import load_sibling


def get_config():
    config = load_sibling(__file__, "autoencoder_digits")
    config.method.noise = "noise(std=0.4)"
    config.method.eval_noise = "noise(std=0.4)"
    return config
