"""Matching Networks (cosine attention; full-context embeddings with method.fce=True) on the Fashion-MNIST class split.

protonet_fashion_mnist's data, model, training episodes (5-way 5-shot) and
test episodes; the method section of matching_digits.py. One model is tested
5-way 1-shot and 5-shot.

Through the episodic runner (5-way 1-shot / 5-shot, 600 test episodes;
benchmarks/fewshot_configs_bench.py, few_shot.jsonl): 0.621 +- 0.008 /
0.815 +- 0.005 (2-core CPU, 121 s). With the initial draw of 2073053 (a split
key): 0.595 / 0.794 on an H200 and 0.601 / 0.791 on the CPU; with
--config.method.fce=True 0.586 +- 0.007 / 0.769 +- 0.005 (H200) and 0.588 /
0.784 (CPU). Raw pixels: 0.578 / 0.745.

Launch:
  jaxssl train configs/matching_fashion_mnist.py --workdir runs/matching_fashion
"""

from jaxssl.config_utils import load_sibling


def get_config():
    config = load_sibling(__file__, "protonet_fashion_mnist")
    config.method = load_sibling(__file__, "matching_digits").method
    return config
