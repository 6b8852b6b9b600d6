"""CMC on scikit-learn's digits (8x8): three views, one MLP encoder each.

Views: the image, its Sobel gradient magnitude and its Laplacian, each made
from its own augmented copy of the image; ``multiview_nce`` over all view
pairs (CMC's full graph). kNN and the linear probe see the three encoders'
features concatenated.

Launch:
  jaxssl train configs/cmc_digits.py --workdir runs/cmc_digits

Smoke variant (a few seconds):
  jaxssl train configs/cmc_digits.py --workdir /tmp/cmc \
      --config.train.total_steps=20 --config.optim.schedule.warmup_steps=2
"""

import ml_collections

from jaxssl.config_utils import load_sibling


def get_config() -> ml_collections.ConfigDict:
    # SimCLR's optimiser, data, schedule and evaluation; CMC's method.
    config = load_sibling(__file__, "simclr_digits")
    config.method = dict(
        name="cmc",
        views=("identity", "sobel", "laplacian"),  # See jaxssl/methods/cmc.py.
        # No flip: mirrored digits are other digits (or none).
        augment=(
            "resized_crop(scale=(0.3, 1.0))|brightness(strength=0.4)"
            "|contrast(strength=0.4)"
        ),
        independent_augment=True,  # Each view from its own augmented copy.
        pairs="full",  # "full" (every pair of views) or "core" (pairs with view 0)
        temperature=0.2,
        projection_hidden=256,
        projection_dim=64,
        projection_norm="none",  # "none" or "layernorm"
        features="concat",  # encode(): "concat" (all views) or "first"
    )
    # One encoder of this shape per view: the representation is 3 x 64 = 192.
    config.model.latent_dim = 64
    return config
