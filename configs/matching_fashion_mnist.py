"""Matching Networks (cosine attention; full-context embeddings with method.fce=True) on the Fashion-MNIST class split.

protonet_fashion_mnist's data, model, training episodes (5-way 5-shot) and
test episodes; the method section of matching_digits.py. One model is tested
5-way 1-shot and 5-shot.

Launch:
  jaxssl train configs/matching_fashion_mnist.py --workdir runs/matching_fashion
"""

from jaxssl.config_utils import load_sibling


def get_config():
    config = load_sibling(__file__, "protonet_fashion_mnist")
    config.method = load_sibling(__file__, "matching_digits").method
    return config
