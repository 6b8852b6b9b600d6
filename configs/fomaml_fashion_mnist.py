"""First-order MAML (FOMAML) on the Fashion-MNIST class split.

maml_fashion_mnist with the inner gradients stopped (``first_order=True``).

Through the episodic runner on an H200 (5-way 1-shot / 5-shot, 600 test
episodes; benchmarks/fewshot_configs_bench.py, few_shot.jsonl; trained with the
shot it is tested with): 0.589 +- 0.007 / 0.789 +- 0.006 (second order: 0.596 /
0.782; raw pixels 0.578 / 0.745).

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
