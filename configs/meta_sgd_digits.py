"""Meta-SGD on digits: maml_digits with a learned per-parameter inner rate.

One inner step in training and at test time (the paper's setting); the rates
start uniform in [0.005, 0.1] (``method.inner_lr``, a (low, high) range; a
constant start is (lr, lr)).

Launch:
  jaxssl train configs/meta_sgd_digits.py --workdir runs/meta_sgd_digits
"""

from jaxssl.config_utils import load_sibling


def get_config():
    config = load_sibling(__file__, "maml_digits")
    config.method = dict(
        name="meta_sgd",
        inner_lr=(0.005, 0.1),
        inner_steps=1,
        test_inner_steps=1,
        first_order=False,
    )
    return config
