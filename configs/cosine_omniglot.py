"""Chen et al.'s "Baseline++" (cosine-similarity head) on Omniglot (rotation-augmented classes).

protonet_omniglot's data (4,400 rotated base classes to pretrain on) and
test episodes; the method section of cosine_digits.py, batches of 128
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
    config = load_sibling(__file__, "protonet_omniglot")
    config.method = load_sibling(__file__, "cosine_digits").method
    config.method.batch_size = 128
    config.model.norm = "none"
    config.model.conv_impl = "patches"  # faster gradients on XLA:CPU
    config.episodes.train_way = 0  # no training episodes: batches of images
    config.train.total_steps = 20000
    return config
