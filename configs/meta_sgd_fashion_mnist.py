"""Meta-SGD (learned per-parameter inner rates, one step) on the Fashion-MNIST class split.

maml_fashion_mnist's data and learner; the method section of meta_sgd_digits.py
(rates start uniform in [0.005, 0.1]).

Launch (5-way 1-shot, 5-way 5-shot):
  jaxssl train configs/meta_sgd_fashion_mnist.py --workdir runs/meta_sgd_fashion_1shot
  jaxssl train configs/meta_sgd_fashion_mnist.py --workdir runs/meta_sgd_fashion_5shot \
      --config.episodes.shot=5
"""

from jaxssl.config_utils import load_sibling


def get_config():
    config = load_sibling(__file__, "maml_fashion_mnist")
    config.method = load_sibling(__file__, "meta_sgd_digits").method
    return config
