"""Colorization (predict ab from L) on CIFAR-10 through TFDS: conv encoder/decoder.

Needs colour images; TFDS prepares cifar10 in its data dir on first use (or
pass --config.input.data_dir=DIR holding a prepared copy).

Launch (GPU):
  jaxssl train configs/colorization_cifar10.py --workdir runs/colorization_cifar10

Smoke variant:
  jaxssl train configs/colorization_cifar10.py --workdir /tmp/color \
      --config.train.total_steps=20 --config.optim.schedule.warmup_steps=2 \
      --config.evals.every=0 --config.evals.embedding_plot=False
"""

from jaxssl.config_utils import load_sibling


def get_config():
    config = load_sibling(__file__, "rotation_digits")
    config.method = dict(
        name="colorization",
        augment="crop(padding=4)|flip",  # on the RGB image, before L/ab
        loss="mse",  # "mse" or "huber" on (a, b) / 110
    )
    config.model = dict(
        name="conv",
        features=(64, 128, 256),  # 32x32 -> 4x4
        latent_dim=512,
        activation="relu",
        hidden=(256,),
        conv_impl="lax",
    )
    config.input.dataset = "tfds:cifar10"
    config.input.batch_size = 256
    config.train.total_steps = 10000
    config.train.ckpt_every = 1000
    config.evals.every = 2000
    config.evals.knn_k = 20
    return config
