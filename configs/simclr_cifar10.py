"""SimCLR on CIFAR-10 (TFDS): CIFAR ResNet-18, for accelerator runs.

The base of every ``*_cifar10`` self-supervised config: TFDS ``cifar10``
(prepared in the TFDS data dir on first use; this machine cannot download
it), the CIFAR variant of ResNet-18 (GroupNorm; its 512-d pooled features are
the representation), SimCLR's colour augmentations, batch 512, 40k steps
(about 400 epochs).

Launch (GPU/TPU):
  jaxssl train configs/simclr_cifar10.py --workdir runs/simclr_cifar10
"""

from jaxssl.config_utils import load_sibling

CIFAR10 = "tfds:cifar10"
# SimCLR's CIFAR-10 views (no blur at 32x32).
CIFAR_AUGMENT = (
    "resized_crop(scale=(0.2, 1.0))|flip"
    "|color_jitter(brightness=0.4, contrast=0.4, saturation=0.4, hue=0.1, prob=0.8)"
    "|grayscale(prob=0.2)"
)


def get_config():
    config = load_sibling(__file__, "simclr_fashion_mnist")
    config.input.dataset = CIFAR10
    config.input.batch_size = 512
    config.method.augment = CIFAR_AUGMENT
    config.method.temperature = 0.5
    config.method.projection_hidden = 512
    config.method.projection_dim = 128
    config.model.name = "resnet18"
    config.model.latent_dim = 0  # The 512-d pooled features.
    config.model.conv_impl = "lax"
    config.optim.lr = 0.6  # 0.3 x batch / 256, SGD + momentum, warmup-cosine.
    config.optim.weight_decay = 1e-6
    config.optim.schedule.warmup_steps = 1000
    config.train.total_steps = 40000
    config.train.ckpt_every = 2000
    config.evals.every = 5000
    config.evals.knn_k = 200
    return config
