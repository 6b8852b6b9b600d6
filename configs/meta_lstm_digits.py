"""The meta-learner LSTM (a learned update rule) on digits.

maml_digits' learner; its inner loop is Ravi & Larochelle's LSTM update rule
(hidden size 20, initialised as SGD with rate ``inner_lr`` and no shrinkage),
meta-learned with the learner's initialisation; first order, as in the paper
(gradients through the learner's gradients are stopped).

Launch:
  jaxssl train configs/meta_lstm_digits.py --workdir runs/meta_lstm_digits
"""

from jaxssl.config_utils import load_sibling


def get_config():
    config = load_sibling(__file__, "maml_digits")
    config.method = dict(
        name="meta_lstm",
        inner_lr=0.1,  # sigmoid(b_i) at init: the starting step size
        init_forget=0.9999,  # sigmoid(b_f) at init: no shrinkage
        hidden_size=20,
        inner_steps=5,
        test_inner_steps=5,
        first_order=True,
    )
    config.optim.lr = 1e-3
    return config
