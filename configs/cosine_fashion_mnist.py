"""Chen et al.'s "Baseline++" (cosine-similarity head) on the Fashion-MNIST class split.

protonet_fashion_mnist's split, augmentation and test episodes (one model,
tested 5-way 1-shot and 5-shot); the method section of cosine_digits.py,
batches of 128 base-class images, conv4 without a norm layer
(benchmarks/fewshot_baselines_bench.py's setting).

Launch:
  jaxssl train configs/cosine_fashion_mnist.py --workdir runs/cosine_fashion
"""

from jaxssl.config_utils import load_sibling


def get_config():
    config = load_sibling(__file__, "protonet_fashion_mnist")
    config.method = load_sibling(__file__, "cosine_digits").method
    config.method.batch_size = 128
    config.model.norm = "none"
    config.model.conv_impl = "patches"  # faster gradients on XLA:CPU
    config.model.pool_last = True  # the measured setting (protonet's is False)
    config.train.total_steps = 2000
    config.train.val_every = 250
    config.train.ckpt_every = 500
    return config
