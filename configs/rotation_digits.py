"""RotNet (rotation prediction) on scikit-learn's digits (8x8): MLP encoder.

Launch:
  jaxssl train configs/rotation_digits.py --workdir runs/rotation_digits

Smoke variant (a few seconds):
  jaxssl train configs/rotation_digits.py --workdir /tmp/rotation \
      --config.train.total_steps=20 --config.optim.schedule.warmup_steps=2
"""

from jaxssl.config_utils import load_sibling


def get_config():
    config = load_sibling(__file__, "simclr_digits")
    config.method = dict(
        name="rotation",
        augment="translate(max_shift=1)",  # Applied before rotating; "" for none
        rotations="all",  # "all" (4B inputs per batch, the paper's) or "random"
        head_hidden=(256,),  # () for a linear head
    )
    config.optim = dict(
        name="adamw",
        lr=1e-3,
        weight_decay=1e-4,
        weight_decay_mask="no_bias_norm",
        clip_norm=0.0,
        schedule=dict(name="warmup_cosine", warmup_steps=100),
    )
    return config
