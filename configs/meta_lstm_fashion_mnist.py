"""The meta-learner LSTM (a learned update rule, first order) on the Fashion-MNIST class split.

maml_fashion_mnist's data and learner; the method section of meta_lstm_digits.py.

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
