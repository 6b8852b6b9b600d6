"""The meta-learner LSTM on sinusoid regression: maml_sinusoid's regressor
adapted by a learned update rule (5 steps, starting as SGD with rate 0.01).

First order (Ravi & Larochelle's choice): second order through the 5 LSTM
steps did not finish 500 meta-steps in 10 minutes on a busy 2-core CPU. Even
first order, the LSTM runs on each of the regressor's 1,761 coordinates for
25 tasks x 5 steps: 1.6 meta-steps/s on that CPU, so the 20,000 steps are
GPU work. No published figure for this
pairing and none measured here yet; compare with maml_sinusoid.

Launch (K = 5, 10, 20):
  jaxssl train configs/meta_lstm_sinusoid.py --workdir runs/meta_lstm_sinusoid_5shot
  jaxssl train configs/meta_lstm_sinusoid.py --workdir runs/meta_lstm_sinusoid_10shot \
      --config.episodes.shot=10 --config.episodes.query=10
  jaxssl train configs/meta_lstm_sinusoid.py --workdir runs/meta_lstm_sinusoid_20shot \
      --config.episodes.shot=20 --config.episodes.query=20
"""

from jaxssl.config_utils import load_sibling


def get_config():
    config = load_sibling(__file__, "maml_sinusoid")
    config.method = dict(
        name="meta_lstm",
        inner_lr=0.01,
        init_forget=0.9999,
        hidden_size=20,
        inner_steps=5,
        test_inner_steps=5,
        first_order=True,
    )
    return config
