"""Matching Networks (cosine attention; full-context embeddings with method.fce=True) on Omniglot (rotation-augmented classes).

protonet_omniglot's data, model and test episodes; the method section of
matching_digits.py (trained on episodes of the test way).

Launch (5-way 1-shot, 5-way 5-shot, 20-way 1-shot, 20-way 5-shot):
  jaxssl train configs/matching_omniglot.py --workdir runs/matching_omniglot_5w1s
  jaxssl train configs/matching_omniglot.py --workdir runs/matching_omniglot_5w5s \
      --config.episodes.shot=5
  jaxssl train configs/matching_omniglot.py --workdir runs/matching_omniglot_20w1s \
      --config.episodes.way=20
  jaxssl train configs/matching_omniglot.py --workdir runs/matching_omniglot_20w5s \
      --config.episodes.way=20 --config.episodes.shot=5
"""

from jaxssl.config_utils import load_sibling


def get_config():
    config = load_sibling(__file__, "protonet_omniglot")
    config.method = load_sibling(__file__, "matching_digits").method
    config.episodes.train_way = 0  # Matching Nets train N-way
    return config
