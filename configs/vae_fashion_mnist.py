"""MLP VAE (784-512-256-32) on dynamically binarised Fashion-MNIST.

A Bernoulli decoder trained on ``x ~ Bernoulli(pixel grey level)`` redrawn
every step (``input.augment="binarize"``); the end of the run reports, in
nats per test example, the ELBO and the IWAE bound with 1,000 importance
samples on a fixed stochastic binarisation of the 10,000 test images. Needs
the real Fashion-MNIST IDX files (``apt-get install dataset-fashion-mnist``).
Measured: 37 minutes on a 2-core CPU shared with other jobs, about a third
training and two thirds the K = 1,000 IWAE bound (10M decoder passes); use
``--config.method.iwae_samples=100`` for a 10x cheaper bound.

Launch:
  jaxssl train configs/vae_fashion_mnist.py --workdir runs/vae_fashion_mnist

Smoke variant (under a minute):
  jaxssl train configs/vae_fashion_mnist.py --workdir /tmp/vae_fmnist \
      --config.train.total_steps=20 --config.optim.schedule.warmup_steps=2 \
      --config.method.iwae_samples=10 --config.evals.raw_baseline=False \
      --config.evals.embedding_plot=False
"""

from jaxssl.config_utils import load_sibling


def get_config():
    config = load_sibling(__file__, "vae_digits")
    config.model.hidden = (512, 256)
    config.model.latent_dim = 32
    config.optim.schedule.warmup_steps = 200
    config.input.dataset = "idx:/usr/share/datasets/fashion-mnist"
    config.train = dict(total_steps=4000, log_every=200, ckpt_every=2000)
    config.evals.every = 0
    return config
