"""Chen et al.'s "Baseline++" on digits: a cosine-similarity head.

finetune_digits with a cosine classifier (scaled cosine of the features and
each class's weight vector; the scale is learned, starting at 10) in
pretraining, and a cosine head with a fixed scale (10), started at the
normalised class means of the support features, fitted to each episode.

Launch:
  jaxssl train configs/cosine_digits.py --workdir runs/cosine_digits
"""

from jaxssl.config_utils import load_sibling


def get_config():
    config = load_sibling(__file__, "finetune_digits")
    config.method.name = "cosine"
    config.method.init_scale = 10.0  # the pretraining head's learned scale
    return config
