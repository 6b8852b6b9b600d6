"""Chen et al.'s "Baseline++" (cosine-similarity head) on the Fashion-MNIST class split.

protonet_fashion_mnist's split, augmentation and test episodes (one model,
tested 5-way 1-shot and 5-shot): finetune_fashion_mnist.py with the method
section of cosine_digits.py, batches of 128 base-class images, conv4 without a
norm layer
(benchmarks/fewshot_baselines_bench.py's setting).

Launch:
  jaxssl train configs/cosine_fashion_mnist.py --workdir runs/cosine_fashion
"""

from jaxssl.config_utils import load_sibling


def get_config():
    config = load_sibling(__file__, "finetune_fashion_mnist")
    method = load_sibling(__file__, "cosine_digits").method
    method.batch_size = config.method.batch_size
    config.method = method
    return config
