"""CMC on Fashion-MNIST (IDX files): three views, one conv encoder each.

Views: the image, its Sobel gradient magnitude and its Laplacian, each from
its own augmented copy; ``multiview_nce`` over all view pairs. kNN and the
linear probe see the three encoders' features concatenated (3 x 128).

Data: `apt-get install dataset-fashion-mnist` (Debian) puts the IDX files in
/usr/share/datasets/fashion-mnist; any folder with the four IDX files works
via --config.input.dataset=idx:DIR.

Launch:
  jaxssl train configs/cmc_fashion_mnist.py --workdir runs/cmc_fashion_mnist

Smoke variant (a minute on CPU):
  jaxssl train configs/cmc_fashion_mnist.py --workdir /tmp/cmc_fm \
      --config.train.total_steps=20 --config.optim.schedule.warmup_steps=2 \
      --config.evals.every=0 --config.evals.embedding_plot=False
"""

from jaxssl.config_utils import load_sibling

FASHION_MNIST = "idx:/usr/share/datasets/fashion-mnist"


def get_config():
    config = load_sibling(__file__, "cmc_digits")
    config.input.dataset = FASHION_MNIST
    config.input.batch_size = 256
    # Clothes are left-right symmetric, so flips are label-preserving here.
    config.method.augment = (
        "resized_crop(scale=(0.3, 1.0))|flip|brightness(strength=0.4)"
        "|contrast(strength=0.4)|translate(max_shift=2)"
    )
    config.method.temperature = 0.2
    config.model.name = "conv"
    config.model.features = (32, 64)
    config.model.latent_dim = 128
    config.model.conv_impl = "patches"  # Faster than lax.conv on XLA:CPU.
    config.optim.lr = 0.3
    config.train.total_steps = 10000
    config.train.ckpt_every = 1000
    config.evals.every = 2000
    return config
