"""Meta-SGD (learned per-parameter inner rates, one step) on the Fashion-MNIST class split.

maml_fashion_mnist's data and learner; the method section of meta_sgd_digits.py
(rates start uniform in [0.005, 0.1]).

Through the episodic runner on an H200 (5-way 1-shot / 5-shot, 600 test
episodes; benchmarks/fewshot_configs_bench.py, few_shot.jsonl; trained with the
shot it is tested with): 0.580 +- 0.007 / 0.710 +- 0.005 (raw pixels 0.578 /
0.745); 5-shot is below raw pixels.

Tried (1-shot, 2-core CPU, records in few_shot.jsonl): rates starting in [0.2,
0.4] 0.519 +- 0.008; 2,000 steps 0.492 +- 0.007, although base-class validation
rose from 0.711 to 0.84: with 5 base classes, longer training fits them at the
novel classes' expense.

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
