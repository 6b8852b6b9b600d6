"""Second-order MAML on Omniglot: the MAML paper's setting (Finn et al. 2017).

protonet_omniglot's data (28x28, rotation-augmented classes, 1,100 / 100 /
423 characters); conv4 (64 channels, transductive batch norm) + linear head;
5-way: 1 inner SGD step of 0.4 in training and 3 at test time, 32 tasks per
meta-batch; 20-way: 5 steps of 0.1 in training and at test time, 16 tasks.
Adam 1e-3 on the meta-gradient, 60,000 meta-steps. Queries: 5 per class
(the paper's code uses K).

Launch (5-way 1-shot, 5-way 5-shot, 20-way 1-shot, 20-way 5-shot):
  jaxssl train configs/maml_omniglot.py --workdir runs/maml_omniglot_5w1s
  jaxssl train configs/maml_omniglot.py --workdir runs/maml_omniglot_5w5s \
      --config.episodes.shot=5
  jaxssl train configs/maml_omniglot.py --workdir runs/maml_omniglot_20w1s \
      --config.episodes.way=20 --config.episodes.tasks_per_step=16 \
      --config.method.inner_lr=0.1 --config.method.inner_steps=5 \
      --config.method.test_inner_steps=5
  jaxssl train configs/maml_omniglot.py --workdir runs/maml_omniglot_20w5s \
      --config.episodes.way=20 --config.episodes.shot=5 \
      --config.episodes.tasks_per_step=16 --config.method.inner_lr=0.1 \
      --config.method.inner_steps=5 --config.method.test_inner_steps=5
"""

from jaxssl.config_utils import load_sibling


def get_config():
    config = load_sibling(__file__, "protonet_omniglot")
    config.method = load_sibling(__file__, "maml_digits").method
    config.model.conv_impl = "patches"
    config.episodes.train_way = 0  # the head has `way` outputs
    config.episodes.tasks_per_step = 32
    config.train.total_steps = 60000
    return config
