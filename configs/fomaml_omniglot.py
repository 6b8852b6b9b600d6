"""First-order MAML (FOMAML) on Omniglot (rotation-augmented classes).

maml_omniglot with the inner gradients stopped (``first_order=True``).
For 20-way, also --config.episodes.tasks_per_step=16 (as maml_omniglot).

Launch (5-way 1-shot, 5-way 5-shot, 20-way 1-shot, 20-way 5-shot):
  jaxssl train configs/fomaml_omniglot.py --workdir runs/fomaml_omniglot_5w1s
  jaxssl train configs/fomaml_omniglot.py --workdir runs/fomaml_omniglot_5w5s \
      --config.episodes.shot=5
  jaxssl train configs/fomaml_omniglot.py --workdir runs/fomaml_omniglot_20w1s \
      --config.episodes.way=20
  jaxssl train configs/fomaml_omniglot.py --workdir runs/fomaml_omniglot_20w5s \
      --config.episodes.way=20 --config.episodes.shot=5
"""

from jaxssl.config_utils import load_sibling


def get_config():
    config = load_sibling(__file__, "maml_omniglot")
    config.method.first_order = True
    return config
