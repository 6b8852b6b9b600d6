"""First-order MAML (FOMAML) on the Fashion-MNIST class split.

maml_fashion_mnist with the inner gradients stopped (``first_order=True``).

Launch (5-way 1-shot, 5-way 5-shot):
  jaxssl train configs/fomaml_fashion_mnist.py --workdir runs/fomaml_fashion_1shot
  jaxssl train configs/fomaml_fashion_mnist.py --workdir runs/fomaml_fashion_5shot \
      --config.episodes.shot=5
"""

from jaxssl.config_utils import load_sibling


def get_config():
    config = load_sibling(__file__, "maml_fashion_mnist")
    config.method.first_order = True
    return config
