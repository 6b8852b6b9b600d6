"""Instance discrimination with a memory bank on digits (8x8): MLP encoder.

Launch:
  jaxssl train configs/instdisc_digits.py --workdir runs/instdisc_digits

Smoke variant (a few seconds):
  jaxssl train configs/instdisc_digits.py --workdir /tmp/instdisc \
      --config.train.total_steps=20 --config.optim.schedule.warmup_steps=2
"""

from jaxssl.config_utils import load_sibling


def get_config():
    config = load_sibling(__file__, "simclr_digits")
    augment = config.method.augment
    config.method = dict(
        name="instdisc",
        augment=augment,  # One SimCLR-style view per image.
        temperature=0.07,  # The paper's
        # 0 = the exact softmax over the whole bank: digits has 1,437 training
        # images, so a [256, 1437] similarity matrix is cheap.
        num_negatives=0,
        bank_momentum=0.5,  # The paper's
        bank_size=0,  # 0 = the training set size
        projection_dim=128,  # The paper's 128-d linear head
    )
    config.optim.lr = 0.03  # The paper's SGD lr; 0.3 diverges at T = 0.07.
    return config
