"""Chen et al.'s "Baseline++" (cosine-similarity head) on Omniglot (rotation-augmented classes).

protonet_omniglot's data (4,400 rotated base classes to pretrain on) and
test episodes: finetune_omniglot.py with the method section of
cosine_digits.py, batches of 128
images, conv4 without a norm layer. The shot only matters at test time.

Launch (5-way 1-shot, 5-way 5-shot, 20-way 1-shot, 20-way 5-shot):
  jaxssl train configs/cosine_omniglot.py --workdir runs/cosine_omniglot_5w1s
  jaxssl train configs/cosine_omniglot.py --workdir runs/cosine_omniglot_5w5s \
      --config.episodes.shot=5
  jaxssl train configs/cosine_omniglot.py --workdir runs/cosine_omniglot_20w1s \
      --config.episodes.way=20
  jaxssl train configs/cosine_omniglot.py --workdir runs/cosine_omniglot_20w5s \
      --config.episodes.way=20 --config.episodes.shot=5
"""

from jaxssl.config_utils import load_sibling


def get_config():
    config = load_sibling(__file__, "finetune_omniglot")
    method = load_sibling(__file__, "cosine_digits").method
    method.batch_size = config.method.batch_size
    config.method = method
    return config
