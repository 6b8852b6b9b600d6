"""Meta-SGD (learned per-parameter inner rates, one step) on Omniglot (rotation-augmented classes).

maml_omniglot's data and learner; the method section of meta_sgd_digits.py
(rates start uniform in [0.005, 0.1]).
For 20-way, also --config.episodes.tasks_per_step=16 (as maml_omniglot).

Launch (5-way 1-shot, 5-way 5-shot, 20-way 1-shot, 20-way 5-shot):
  jaxssl train configs/meta_sgd_omniglot.py --workdir runs/meta_sgd_omniglot_5w1s
  jaxssl train configs/meta_sgd_omniglot.py --workdir runs/meta_sgd_omniglot_5w5s \
      --config.episodes.shot=5
  jaxssl train configs/meta_sgd_omniglot.py --workdir runs/meta_sgd_omniglot_20w1s \
      --config.episodes.way=20
  jaxssl train configs/meta_sgd_omniglot.py --workdir runs/meta_sgd_omniglot_20w5s \
      --config.episodes.way=20 --config.episodes.shot=5
"""

from jaxssl.config_utils import load_sibling


def get_config():
    config = load_sibling(__file__, "maml_omniglot")
    config.method = load_sibling(__file__, "meta_sgd_digits").method
    return config
