"""Prototypical Networks on digits (8x8): the few-shot smoke config (seconds).

Base classes 0-4 (training episodes from their train-split images, validation
episodes from their test-split images), novel classes 5-9; a 2-block conv4
(32 channels, transductive batch norm); tested on 600 5-way 1-shot and
5-shot episodes with 15 queries. Every few-shot digits config derives from
this one and changes the method (and model) sections.

Measured (seed 0, 300 steps, 60 s on a busy 2-core CPU): 5-way 1-shot
0.669 +- 0.007, 5-shot 0.874 +- 0.004; nearest class means of raw pixels on
the same episodes: 0.720 / 0.892. A wiring check, not a result: 8x8 digits
with 5 base classes leave little to learn that transfers.

Launch:
  jaxssl train configs/protonet_digits.py --workdir runs/protonet_digits
"""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
    config = ml_collections.ConfigDict()
    config.seed = 0
    config.method = dict(name="protonet")
    config.model = dict(
        name="conv4",  # "conv4", "resnet12" or "mlp"
        features=32,
        num_blocks=2,  # 8x8 digits: 8 -> 4 -> 2 (a 2x2x32 embedding)
        pool_last=True,  # False: no max-pool after the last block
        norm="transductive",  # "transductive" or "none"
        conv_impl="lax",  # "lax" or "patches" (faster under vmap on CPU)
        hidden=(128, 64),  # name="mlp": widths
        activation="relu",  # name="mlp"
    )
    config.optim = dict(
        name="adam", lr=3e-3, clip_norm=0.0, schedule=dict(name="constant")
    )
    config.episodes = dict(
        dataset="digits",  # "digits", "idx:<dir>", "tfds:<name>" or "sinusoid"
        data_dir=None,
        num_base=5,  # classes 0-4 meta-train, 5-9 test
        num_val=0,  # 0: validate on the base classes' test-split images
        split_seed=-1,  # -1: classes in order; else a shuffled split
        rotate=False,  # rotation-augmented classes (x4)
        way=5,  # test and validation way (and training way unless train_way)
        train_way=0,  # 0: way (protonet/matching may train with more)
        shot=5,
        query=5,
        tasks_per_step=2,
        augment="",  # e.g. "flip|translate(max_shift=2)"
        test_shots=(1, 5),  # () = (shot,)
        test_query=15,
        test_episodes=600,
        val_episodes=100,
        eval_chunk=50,
    )
    config.train = dict(
        total_steps=300, steps_per_call=50, log_every=50, val_every=50, ckpt_every=150
    )
    return config
