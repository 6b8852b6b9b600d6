"""Instance discrimination with a memory bank on Fashion-MNIST: conv encoder.

Data: `apt-get install dataset-fashion-mnist` (Debian) puts the IDX files in
/usr/share/datasets/fashion-mnist; any folder with the four IDX files works
via --config.input.dataset=idx:DIR.

Launch (10k steps: ~43 epochs, so every bank row is refreshed ~43 times):
  jaxssl train configs/instdisc_fashion_mnist.py \
      --workdir runs/instdisc_fashion_mnist
"""

from jaxssl.config_utils import load_sibling


def get_config():
    config = load_sibling(__file__, "instdisc_digits")
    fashion = load_sibling(__file__, "simclr_fashion_mnist")
    config.input = fashion.input  # batch 256
    config.model = fashion.model  # SimCLR's conv encoder (64, 128) -> 256
    config.method.augment = fashion.method.augment
    # 60,000 bank rows: sample 4096 negatives per batch, as the paper does.
    config.method.num_negatives = 4096
    config.train = fashion.train
    config.evals = fashion.evals
    return config
