"""MLP autoencoder on Fashion-MNIST (IDX files), linear probe and kNN.

Data: `apt-get install dataset-fashion-mnist` (Debian) puts the IDX files in
/usr/share/datasets/fashion-mnist; any folder with the four IDX files works
via --config.input.dataset=idx:DIR.

Launch:
  jaxssl train configs/autoencoder_fashion_mnist.py --workdir runs/autoencoder_fashion_mnist
"""

from jaxssl.config_utils import load_sibling

FASHION_MNIST = "idx:/usr/share/datasets/fashion-mnist"


def get_config():
    config = load_sibling(__file__, "autoencoder_digits")
    config.input.dataset = FASHION_MNIST
    config.input.batch_size = 256
    config.model.hidden = (512, 256)
    config.model.latent_dim = 64
    config.optim.lr = 1e-3
    config.train.total_steps = 6000
    config.train.ckpt_every = 1000
    config.evals.every = 2000
    return config
