"""Prototypical Networks on Omniglot (28x28, rotation-augmented classes).

``tfds:omniglot`` in its few-shot form (28x28, ink high); MAML's split of
the 1,623 characters, shuffled with seed 1: 1,100 meta-train, 100
meta-validation, 423 test characters, each at 0/90/180/270 degrees as its own
class (4,400 / 400 / 1,692 classes). conv4 (64 channels), trained on 60-way
episodes with 5 queries per class and the test shot (ProtoNets' setting),
Adam 1e-3; tested on 600 episodes with 15 queries per class.

Needs Omniglot prepared for TFDS (see jaxssl/data/tfds_source.py; offline:
--config.episodes.data_dir=DIR).

Launch (5-way 1-shot, 5-way 5-shot, 20-way 1-shot, 20-way 5-shot):
  jaxssl train configs/protonet_omniglot.py --workdir runs/protonet_omniglot_5w1s
  jaxssl train configs/protonet_omniglot.py --workdir runs/protonet_omniglot_5w5s \
      --config.episodes.shot=5
  jaxssl train configs/protonet_omniglot.py --workdir runs/protonet_omniglot_20w1s \
      --config.episodes.way=20
  jaxssl train configs/protonet_omniglot.py --workdir runs/protonet_omniglot_20w5s \
      --config.episodes.way=20 --config.episodes.shot=5
"""

from jaxssl.config_utils import load_sibling


def get_config():
    config = load_sibling(__file__, "protonet_fashion_mnist")
    ep = config.episodes
    ep.dataset = "tfds:omniglot"
    ep.num_base, ep.num_val, ep.split_seed = 1100, 100, 1
    ep.rotate = True
    ep.way, ep.train_way = 5, 60
    ep.shot, ep.query = 1, 5
    ep.augment = ""
    ep.test_shots = ()  # the training shot
    config.train = dict(
        total_steps=20000,
        steps_per_call=100,
        log_every=100,
        val_every=1000,
        ckpt_every=2000,
    )
    return config
