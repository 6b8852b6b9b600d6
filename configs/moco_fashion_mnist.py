"""MoCo v2 on Fashion-MNIST (IDX files): conv encoder, kNN and linear probe.

Data: `apt-get install dataset-fashion-mnist` (Debian) puts the IDX files in
/usr/share/datasets/fashion-mnist; any folder with the four IDX files works
via --config.input.dataset=idx:DIR.

Launch (10k steps: ~43 epochs; minutes on a GPU):
  jaxssl train configs/moco_fashion_mnist.py --workdir runs/moco_fashion_mnist
"""

from jaxssl.config_utils import load_sibling


def get_config():
    config = load_sibling(__file__, "moco_digits")
    fashion = load_sibling(__file__, "simclr_fashion_mnist")
    config.input = fashion.input  # batch 256
    config.model = fashion.model  # SimCLR's conv encoder (64, 128) -> 256
    config.method.augment = fashion.method.augment
    config.method.queue_size = 8192  # 32 batches of 256
    config.method.momentum = 0.99
    config.method.temperature = 0.2
    config.optim = fashion.optim
    config.train = fashion.train
    config.evals = fashion.evals
    return config
