"""MoCo v2 on scikit-learn's digits (8x8): MLP encoder, kNN and linear probe.

Launch:
  jaxssl train configs/moco_digits.py --workdir runs/moco_digits

Smoke variant (a few seconds):
  jaxssl train configs/moco_digits.py --workdir /tmp/moco \
      --config.train.total_steps=20 --config.optim.schedule.warmup_steps=2
"""

from jaxssl.config_utils import load_sibling


def get_config():
    config = load_sibling(__file__, "simclr_digits")
    augment = config.method.augment
    config.method = dict(
        name="moco",
        augment=augment,  # The SimCLR views.
        temperature=0.2,  # MoCo v2
        momentum=0.99,  # 0.999 (the paper's) moves too slowly for 2000 steps
        # 4 batches of 256: 1024 negatives, about 0.7 epochs of digits' 1,437
        # training images, so the oldest keys are at most ~4 steps stale.
        queue_size=1024,
        symmetric=False,
        projection_hidden=256,  # v2's MLP head
        projection_dim=64,
        projection_norm="none",  # "none" or "layernorm"
    )
    return config
