"""Stacked autoencoder on digits: greedy layer-wise pretraining, then fine-tuning.

Layers 64 -> 256 -> 128 -> 32: 600 steps per layer, then 1,200 end-to-end.

Launch:
  jaxssl train configs/stacked_ae_digits.py --workdir runs/stacked_ae_digits
"""

from jaxssl.config_utils import load_sibling


def get_config():
    config = load_sibling(__file__, "autoencoder_digits")
    config.method = dict(name="stacked_autoencoder", steps_per_layer=600)
    # Each phase restarts from the warmup-free peak: constant lr suits phases.
    config.optim.schedule = dict(name="constant")
    return config
