"""Second-order MAML on the Fashion-MNIST class split: conv4 + linear 5-way head.

protonet_fashion_mnist's split, test episodes and augmentation; 4 tasks per
meta-batch with 5 queries per class, 2 inner SGD steps (lr 0.2) in training
and 3 at test time (benchmarks/fewshot_bench.py's FOMAML settings), Adam
1e-3 on the meta-gradient. Trained with the shot it is tested with. The
patches conv keeps per-task weights under vmap fast on CPU.

Launch (5-way 1-shot, 5-way 5-shot):
  jaxssl train configs/maml_fashion_mnist.py --workdir runs/maml_fashion_1shot
  jaxssl train configs/maml_fashion_mnist.py --workdir runs/maml_fashion_5shot \
      --config.episodes.shot=5
"""

from jaxssl.config_utils import load_sibling


def get_config():
    config = load_sibling(__file__, "protonet_fashion_mnist")
    config.method = load_sibling(__file__, "maml_digits").method
    config.method.inner_lr = 0.2
    config.method.inner_steps = 2
    config.method.test_inner_steps = 3
    config.model.conv_impl = "patches"
    config.episodes.shot = 1
    config.episodes.query = 5
    config.episodes.tasks_per_step = 4
    config.episodes.test_shots = ()  # the training shot
    config.train.total_steps = 3000
    config.train.val_every = 100
    return config
