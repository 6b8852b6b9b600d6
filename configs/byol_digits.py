"""BYOL on scikit-learn's digits (8x8): MLP encoder, kNN and linear probe.

Launch:
  jaxssl train configs/byol_digits.py --workdir runs/byol_digits

Smoke variant (a few seconds):
  jaxssl train configs/byol_digits.py --workdir /tmp/byol \
      --config.train.total_steps=20 --config.optim.schedule.warmup_steps=2
"""

from jaxssl.config_utils import load_sibling


def get_config():
    config = load_sibling(__file__, "simclr_digits")
    augment = config.method.augment
    config.method = dict(
        name="byol",
        augment=augment,  # The SimCLR views.
        tau_base=0.996,  # 0.99 gave kNN 95.3% (= random init) on digits
        tau_schedule="cosine",  # "cosine" (tau_base -> 1) or "constant"
        projection_hidden=256,
        projection_dim=64,
        projection_norm="layernorm",  # "none" or "layernorm"
        predictor_hidden=256,
        predictor_norm="layernorm",
    )
    config.optim = dict(
        name="adamw",
        lr=5e-3,
        weight_decay=1e-4,
        weight_decay_mask="no_bias_norm",
        clip_norm=0.0,
        schedule=dict(name="warmup_cosine", warmup_steps=100),
    )
    return config
