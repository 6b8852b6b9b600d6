"""Meta-SGD (learned per-parameter inner rates) on the Fashion-MNIST class split.

maml_fashion_mnist's data, learner and inner steps (2 in training, 5 at test
time); the method section of meta_sgd_digits.py (rates start uniform in
[0.005, 0.1]).

Through the episodic runner on the 2-core CPU (5-way 1-shot / 5-shot, 600
test episodes; benchmarks/fewshot_configs_bench.py, few_shot.jsonl at
a015c3c; trained with the shot it is tested with): 0.585 +- 0.007 /
0.796 +- 0.005, against raw pixels at 0.578 +- 0.007 / 0.745 +- 0.005 and a
random conv4 at 0.505 / 0.689. 5-shot beats raw pixels; 1-shot is level
with them (the intervals overlap).

With digits' single inner step in training and at test time it scored
0.580 / 0.710 on an H200 (edb02a9); 2 steps at both 0.570 / 0.766 (CPU).
Also tried (1-shot, CPU): rates starting in [0.2, 0.4] 0.519; 2,000 steps
0.492 although base-class validation rose from 0.711 to 0.84 (with 5 base
classes, longer training fits them at the novel classes' expense);
ANIL's wide body (64 channels, no last pool) 0.529, no last pool 0.519.

Launch (5-way 1-shot, 5-way 5-shot):
  jaxssl train configs/meta_sgd_fashion_mnist.py --workdir runs/meta_sgd_fashion_1shot
  jaxssl train configs/meta_sgd_fashion_mnist.py --workdir runs/meta_sgd_fashion_5shot \
      --config.episodes.shot=5
"""

from jaxssl.config_utils import load_sibling


def get_config():
    config = load_sibling(__file__, "maml_fashion_mnist")
    steps = config.method.inner_steps, config.method.test_inner_steps
    config.method = load_sibling(__file__, "meta_sgd_digits").method
    # maml_fashion_mnist's 2 inner steps in training and 5 at test time.
    config.method.inner_steps, config.method.test_inner_steps = steps
    return config
