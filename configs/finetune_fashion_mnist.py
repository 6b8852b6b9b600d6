"""Chen et al.'s "Baseline" (pretrain, freeze, new linear head per episode) on the Fashion-MNIST class split.

protonet_fashion_mnist's split, augmentation and test episodes (one model,
tested 5-way 1-shot and 5-shot); the method section of finetune_digits.py,
batches of 128 base-class images, conv4 without a norm layer
(benchmarks/fewshot_baselines_bench.py's setting).

Launch:
  jaxssl train configs/finetune_fashion_mnist.py --workdir runs/finetune_fashion
"""

from jaxssl.config_utils import load_sibling


def get_config():
    config = load_sibling(__file__, "protonet_fashion_mnist")
    config.method = load_sibling(__file__, "finetune_digits").method
    config.method.batch_size = 128
    config.model.norm = "none"
    config.model.conv_impl = "patches"  # faster gradients on XLA:CPU
    # Not yet measured through this loop. benchmarks/fewshot_baselines_bench.py
    # measured 0.494 / 0.688 (1/5-shot) with this conv4, and 0.633 / 0.825 with
    # transductive batch norm and no last pool (benchmarks/results/few_shot.jsonl).
    config.model.pool_last = True
    config.train.total_steps = 2000
    config.train.val_every = 250
    config.train.ckpt_every = 500
    return config
