"""ANIL (MAML adapting only the head) on the Fashion-MNIST class split.

maml_fashion_mnist's episodes, inner loop and schedule, whose inner loop
adapts only the linear head, on protonet_fashion_mnist's embedding: conv4
with 64 channels and no last pool (3x3x64 = 576 features). Only the head has
per-task weights, so the wider body costs no more per task than ProtoNet's.
10 head steps at test time (MAML's 5 leave the 576-feature head unfitted;
base-class validation agrees).

Through the episodic runner on the 2-core CPU (5-way 1-shot / 5-shot, 600
test episodes; benchmarks/fewshot_configs_bench.py, few_shot.jsonl at
a015c3c; trained with the shot it is tested with): 0.611 +- 0.007 /
0.825 +- 0.004, against raw pixels at 0.578 / 0.745 and a random conv4 at
0.505 / 0.689.

On MAML's learner (32 channels, pooled to 32 features) ANIL scored 0.492 /
0.563 on an H200 (edb02a9), below raw pixels. Nearest class means of that
body's features score 0.45-0.51 (1-shot): the narrow embedding trained on 5
base classes, not the head's adaptation, was the limit. Also tried there
(1-shot, CPU): no last pool (288 features) 0.541; 2,000 steps 0.499
although base-class validation rose from 0.805 to 0.877. With the wide body
and 5 test steps: 0.602 / 0.751; inner lr 0.05 0.551; 150 steps 0.589.

Launch (5-way 1-shot, 5-way 5-shot):
  jaxssl train configs/anil_fashion_mnist.py --workdir runs/anil_fashion_1shot
  jaxssl train configs/anil_fashion_mnist.py --workdir runs/anil_fashion_5shot \
      --config.episodes.shot=5
"""

from jaxssl.config_utils import load_sibling


def get_config():
    config = load_sibling(__file__, "maml_fashion_mnist")
    config.method.name = "anil"
    config.model = load_sibling(__file__, "protonet_fashion_mnist").model
    # A linear head on 576 features needs more than MAML's 5 test steps to
    # fit the support set (base-class validation agrees).
    config.method.test_inner_steps = 10
    return config
