"""DeepCluster on Fashion-MNIST (IDX files): conv encoder, k-means pseudo-labels.

Every 235 updates (one epoch of 60,000 at batch 256) the encoder embeds the
training set, k-means (k=100) on the PCA-whitened features gives new
pseudo-labels and the head restarts. The training images ride in the method
state (47 MB, also in each checkpoint).

Measured on an H100 after 1,500 steps: linear probe 0.859, kNN 0.851 (raw
pixels 0.847 / 0.846, random-init encoder 0.827 / 0.835).

Launch (GPU, ~10k steps):
  jaxssl train configs/deepcluster_fashion_mnist.py --workdir runs/deepcluster_fm

Smoke variant (a minute on CPU):
  jaxssl train configs/deepcluster_fashion_mnist.py --workdir /tmp/dc_fm \
      --config.train.total_steps=20 --config.optim.schedule.warmup_steps=2 \
      --config.evals.every=0 --config.evals.embedding_plot=False
"""

from jaxssl.config_utils import load_sibling

FASHION_MNIST = "idx:/usr/share/datasets/fashion-mnist"


def get_config():
    config = load_sibling(__file__, "deepcluster_digits")
    config.input.dataset = FASHION_MNIST
    config.input.batch_size = 256
    config.method.num_clusters = 100
    config.method.recluster_every = 235
    config.method.pca_dim = 64
    config.method.augment = "translate(max_shift=2)|flip|brightness(strength=0.2)"
    config.model.name = "conv"
    config.model.features = (32, 64)
    config.model.latent_dim = 128
    config.model.conv_impl = "patches"
    config.train.total_steps = 10000
    config.train.ckpt_every = 1000
    config.evals.every = 2000
    return config
