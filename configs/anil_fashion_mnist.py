"""ANIL (MAML adapting only the head) on the Fashion-MNIST class split.

maml_fashion_mnist whose inner loop adapts only the linear head.

Through the episodic runner on an H200 (5-way 1-shot / 5-shot, 600 test
episodes; benchmarks/fewshot_configs_bench.py, few_shot.jsonl; trained with the
shot it is tested with): 0.492 +- 0.008 / 0.563 +- 0.006, below raw pixels
(0.578 / 0.745): adapting only the head of this small pooled embedding (32
features) is not enough at 400 meta-steps; the config is not tuned for ANIL.

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
