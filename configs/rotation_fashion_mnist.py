"""RotNet (rotation prediction) on Fashion-MNIST (IDX files): conv encoder.

Data: `apt-get install dataset-fashion-mnist` (Debian) puts the IDX files in
/usr/share/datasets/fashion-mnist; any folder with the four IDX files works
via --config.input.dataset=idx:DIR.

Measured on an H100 after 1,500 steps: linear probe 0.876, kNN 0.861 (raw
pixels 0.847 / 0.846, random-init encoder 0.846 / 0.838), held-out rotation
accuracy 98.2%.

Launch (GPU, ~10k steps):
  jaxssl train configs/rotation_fashion_mnist.py --workdir runs/rotation_fm

Smoke variant (a minute on CPU):
  jaxssl train configs/rotation_fashion_mnist.py --workdir /tmp/rotation_fm \
      --config.train.total_steps=20 --config.optim.schedule.warmup_steps=2 \
      --config.evals.every=0 --config.evals.embedding_plot=False
"""

from jaxssl.config_utils import load_sibling

FASHION_MNIST = "idx:/usr/share/datasets/fashion-mnist"


def get_config():
    config = load_sibling(__file__, "rotation_digits")
    config.input.dataset = FASHION_MNIST
    config.input.batch_size = 256  # 1,024 rotated inputs per step
    config.method.augment = "translate(max_shift=2)|flip"
    config.model.name = "conv"
    config.model.features = (32, 64)
    config.model.latent_dim = 256
    config.model.conv_impl = "patches"  # Faster than lax.conv on XLA:CPU.
    config.train.total_steps = 10000
    config.train.ckpt_every = 1000
    config.evals.every = 2000
    return config
