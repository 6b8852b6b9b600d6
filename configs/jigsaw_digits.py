"""Jigsaw puzzles on scikit-learn's digits (8x8): 2x2 grid, 24 permutations, MLP.

The 8x8 digits fit a 2x2 grid of 4x4 cells (a 3x3 grid would give 2x2
tiles); with 24 = 4! permutations every arrangement is a class.

Launch:
  jaxssl train configs/jigsaw_digits.py --workdir runs/jigsaw_digits

Smoke variant (a few seconds):
  jaxssl train configs/jigsaw_digits.py --workdir /tmp/jigsaw \
      --config.train.total_steps=20 --config.optim.schedule.warmup_steps=2
"""

from jaxssl.config_utils import load_sibling


def get_config():
    config = load_sibling(__file__, "rotation_digits")
    config.method = dict(
        name="jigsaw",
        grid=2,  # 2 or 3 tiles per side
        num_permutations=24,  # at most (grid^2)!
        permutation_seed=0,
        tile_size=0,  # 0: the largest the encoder accepts (whole 4x4 cell here)
        tile_norm=True,  # each tile to zero mean, unit variance
        augment="",  # applied to the whole image before cutting
        head_hidden=(256,),
    )
    config.model.hidden = (128,)
    config.model.latent_dim = 32  # per tile: the probe sees 4 x 32 features
    return config
