"""cmc on CIFAR-10 (TFDS): CIFAR ResNet-18, for accelerator runs.

The method's Fashion-MNIST config on SimCLR's CIFAR-10 data, ResNet-18,
schedule and evaluation (configs/simclr_cifar10.py).

Launch (GPU/TPU):
  jaxssl train configs/cmc_cifar10.py --workdir runs/cmc_cifar10
"""

from jaxssl.config_utils import load_sibling


def get_config():
    config = load_sibling(__file__, "cmc_fashion_mnist")
    cifar = load_sibling(__file__, "simclr_cifar10")
    config.input = cifar.input
    config.model = cifar.model
    config.train = cifar.train
    config.evals = cifar.evals
    config.optim.weight_decay = cifar.optim.weight_decay
    config.optim.schedule.warmup_steps = cifar.optim.schedule.warmup_steps
    # Colour data: CMC's L vs ab views (and the L channel's Sobel map).
    config.method.views = ("lab_l", "lab_ab", "sobel")
    config.method.augment = cifar.method.augment.replace(
        "|grayscale(prob=0.2)", ""
    )  # Grayscale would empty the ab view.
    return config
