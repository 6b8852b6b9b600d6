"""Second-order MAML on digits: conv4 (2 blocks) + linear 5-way head.

The protonet_digits split; the inner loop takes 1 SGD step (lr 0.4) on the
support set in training and 3 at test time, the MAML paper's Omniglot 5-way
setting. Trained with the shot it is tested with (``episodes.shot``).

Launch (5-way 1-shot; --config.episodes.shot=5 for 5-shot):
  jaxssl train configs/maml_digits.py --workdir runs/maml_digits
"""

from jaxssl.config_utils import load_sibling


def get_config():
    config = load_sibling(__file__, "protonet_digits")
    config.method = dict(
        name="maml",
        inner_lr=0.4,
        inner_steps=1,
        test_inner_steps=3,
        first_order=False,  # True: FOMAML
    )
    config.model.conv_impl = "patches"  # per-task weights under vmap: fast on CPU
    config.episodes.shot = 1
    config.episodes.test_shots = ()  # test with the training shot
    config.episodes.tasks_per_step = 4
    return config
