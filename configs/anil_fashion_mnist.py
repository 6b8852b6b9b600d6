"""ANIL (MAML adapting only the head) on the Fashion-MNIST class split.

maml_fashion_mnist whose inner loop adapts only the linear head.

Through the episodic runner on an H200 (5-way 1-shot / 5-shot, 600 test
episodes; benchmarks/fewshot_configs_bench.py, few_shot.jsonl; trained with the
shot it is tested with): 0.492 +- 0.008 / 0.563 +- 0.006, below raw pixels
(0.578 / 0.745): adapting only the head of this small pooled embedding (32
features) is not enough here.

Tried (1-shot, 2-core CPU, records in few_shot.jsonl): no last pool (288
features) 0.541 +- 0.007; the same for 2,000 steps 0.499 +- 0.007, although
base-class validation rose from 0.805 to 0.877: with 5 base classes, longer
training fits them at the novel classes' expense.

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
