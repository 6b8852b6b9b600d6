"""Second-order MAML on sinusoid regression (the MAML paper's section 5.1).

Tasks ``y = A sin(x - phase)`` with A in [0.1, 5], phase in [0, pi], x in
[-5, 5]; the regressor is an MLP 1-40-40-1 (ReLU); one inner SGD step (lr
0.01) on K support points, Adam (1e-3) on batches of 25 tasks whose query sets
also have K points. Tested after one step on 2,000 new tasks with K support
and 100 query points: ``test_<K>shot_mse`` and its 95% interval.
benchmarks/sinusoid_bench.py quotes the Meta-SGD paper's figures (MAML
0.686 / 0.435 / 0.228 for K = 5 / 10 / 20).

Measured with this config (K = 5, seed 0, 20,000 steps in 76 s on a busy
2-core CPU): test MSE 0.631 +- 0.032 (paper 0.686 +- 0.070).

The reference reproduction of the Meta-SGD paper's Table 1 is
benchmarks/sinusoid_bench.py: 50 seeds under the MAML code's protocol
(70,000 steps, MAML-code initialisation) and under the Meta-SGD paper's (the
README's "sinusoid against the Meta-SGD paper" table). This config is a
shorter CPU budget with Flax's initialisation.

Launch (K = 5, 10, 20):
  jaxssl train configs/maml_sinusoid.py --workdir runs/maml_sinusoid_5shot
  jaxssl train configs/maml_sinusoid.py --workdir runs/maml_sinusoid_10shot \
      --config.episodes.shot=10 --config.episodes.query=10
  jaxssl train configs/maml_sinusoid.py --workdir runs/maml_sinusoid_20shot \
      --config.episodes.shot=20 --config.episodes.query=20
"""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
    config = ml_collections.ConfigDict()
    config.seed = 0
    config.method = dict(
        name="maml",
        inner_lr=0.01,
        inner_steps=1,
        test_inner_steps=1,
        first_order=False,
    )
    config.model = dict(name="mlp", hidden=(40, 40), activation="relu")
    config.optim = dict(
        name="adam", lr=1e-3, clip_norm=0.0, schedule=dict(name="constant")
    )
    config.episodes = dict(
        dataset="sinusoid",
        shot=5,  # K support points per task
        query=5,  # training query points per task
        tasks_per_step=25,
        augment="",
        test_shots=(),  # () = (shot,)
        test_query=100,
        test_episodes=2000,  # test tasks
        val_episodes=500,
        eval_chunk=100,
    )
    config.train = dict(
        total_steps=20000,
        steps_per_call=500,
        log_every=500,
        val_every=1000,
        ckpt_every=5000,
    )
    return config
