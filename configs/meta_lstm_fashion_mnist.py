"""The meta-learner LSTM (a learned update rule, first order) on the Fashion-MNIST class split.

maml_fashion_mnist's data and learner; the method section of meta_lstm_digits.py.

Through the episodic runner on an H200 (5-way 1-shot / 5-shot, 600 test
episodes; benchmarks/fewshot_configs_bench.py, few_shot.jsonl; trained with the
shot it is tested with): 0.594 +- 0.007 / 0.815 +- 0.005 (raw pixels 0.578 /
0.745).

Launch (5-way 1-shot, 5-way 5-shot):
  jaxssl train configs/meta_lstm_fashion_mnist.py --workdir runs/meta_lstm_fashion_1shot
  jaxssl train configs/meta_lstm_fashion_mnist.py --workdir runs/meta_lstm_fashion_5shot \
      --config.episodes.shot=5
"""

from jaxssl.config_utils import load_sibling


def get_config():
    config = load_sibling(__file__, "maml_fashion_mnist")
    config.method = load_sibling(__file__, "meta_lstm_digits").method
    return config
