"""Chen et al.'s "Baseline++" (cosine-similarity head) on the Fashion-MNIST class split.

finetune_fashion_mnist.py (conv4 with transductive batch norm and no last
pool, batches of 128 base-class images, 2,000 steps) with the method section
of cosine_digits.py.

Through the episodic runner (benchmarks/fewshot_configs_bench.py,
few_shot.jsonl; 5-way 1-shot / 5-shot, 600 test episodes): 0.631 +- 0.007 /
0.839 +- 0.004 (2-core CPU, 530 s); inductive (``--config.model.norm=none
--config.model.pool_last=True``) 0.519 +- 0.006 / 0.713 +- 0.006 (H200). Raw
pixels: 0.578 / 0.745.

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
