"""Chen et al.'s "Baseline" on digits: pretrain, freeze, fit a new linear head.

protonet_digits' split and test episodes; the conv4 (no norm layer, so an
image's features do not depend on its batch) + a linear head over the 5 base
classes is trained with plain cross-entropy on batches of base-class images.
At test time the head is dropped and each episode's support features get a
new linear head (L2-regularised logistic regression by L-BFGS,
:func:`jaxssl.meta.fit_head`); validation is the same procedure on the base
classes' test-split images.

Launch:
  jaxssl train configs/finetune_digits.py --workdir runs/finetune_digits
"""

from jaxssl.config_utils import load_sibling


def get_config():
    config = load_sibling(__file__, "protonet_digits")
    config.method = dict(
        name="finetune",
        batch_size=64,  # base-class images per pretraining step
        head_steps=100,  # optimiser steps of each episode's new head
        head_optimizer="lbfgs",  # "lbfgs" or "adam"
        head_lr=0.1,  # adam only
        head_weight_decay=1e-2,  # linear head's L2 penalty
        head_scale=10.0,  # cosine head's fixed scale
    )
    config.model.norm = "none"
    return config
