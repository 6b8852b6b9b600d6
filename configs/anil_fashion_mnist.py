"""ANIL (MAML adapting only the head) on the Fashion-MNIST class split.

maml_fashion_mnist whose inner loop adapts only the linear head.

Launch (5-way 1-shot, 5-way 5-shot):
  jaxssl train configs/anil_fashion_mnist.py --workdir runs/anil_fashion_1shot
  jaxssl train configs/anil_fashion_mnist.py --workdir runs/anil_fashion_5shot \
      --config.episodes.shot=5
"""

from jaxssl.config_utils import load_sibling


def get_config():
    config = load_sibling(__file__, "maml_fashion_mnist")
    config.method.name = "anil"
    return config
