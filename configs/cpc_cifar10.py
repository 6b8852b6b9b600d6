"""cpc on CIFAR-10 (TFDS): CIFAR ResNet-18, for accelerator runs.

The method's Fashion-MNIST config on SimCLR's CIFAR-10 data, ResNet-18,
schedule and evaluation (configs/simclr_cifar10.py).

Launch (GPU/TPU):
  jaxssl train configs/cpc_cifar10.py --workdir runs/cpc_cifar10
"""

from jaxssl.config_utils import load_sibling


def get_config():
    config = load_sibling(__file__, "cpc_fashion_mnist")
    cifar = load_sibling(__file__, "simclr_cifar10")
    config.input = cifar.input
    config.model = cifar.model
    config.train = cifar.train
    config.evals = cifar.evals
    config.optim.weight_decay = cifar.optim.weight_decay
    config.optim.schedule.warmup_steps = cifar.optim.schedule.warmup_steps
    # 32x32 images: 8x8 patches, stride 4 -> a 7x7 grid.
    config.model.latent_dim = 256
    return config
