"""BYOL on Fashion-MNIST (IDX files): conv encoder, kNN and linear probe.

Data: `apt-get install dataset-fashion-mnist` (Debian) puts the IDX files in
/usr/share/datasets/fashion-mnist; any folder with the four IDX files works
via --config.input.dataset=idx:DIR.

Launch:
  jaxssl train configs/byol_fashion_mnist.py --workdir runs/byol_fashion_mnist
"""

from jaxssl.config_utils import load_sibling


def get_config():
    config = load_sibling(__file__, "byol_digits")
    fashion = load_sibling(__file__, "simclr_fashion_mnist")
    config.input = fashion.input
    config.model = fashion.model
    config.method.augment = fashion.method.augment
    config.train = fashion.train
    config.evals = fashion.evals
    return config
