"""ANIL (MAML adapting only the head) on Omniglot (rotation-augmented classes).

maml_omniglot whose inner loop adapts only the linear head.
For 20-way, also --config.episodes.tasks_per_step=16 (as maml_omniglot).

Launch (5-way 1-shot, 5-way 5-shot, 20-way 1-shot, 20-way 5-shot):
  jaxssl train configs/anil_omniglot.py --workdir runs/anil_omniglot_5w1s
  jaxssl train configs/anil_omniglot.py --workdir runs/anil_omniglot_5w5s \
      --config.episodes.shot=5
  jaxssl train configs/anil_omniglot.py --workdir runs/anil_omniglot_20w1s \
      --config.episodes.way=20
  jaxssl train configs/anil_omniglot.py --workdir runs/anil_omniglot_20w5s \
      --config.episodes.way=20 --config.episodes.shot=5
"""

from jaxssl.config_utils import load_sibling


def get_config():
    config = load_sibling(__file__, "maml_omniglot")
    config.method.name = "anil"
    return config
