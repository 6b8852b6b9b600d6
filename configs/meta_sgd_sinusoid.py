"""Meta-SGD on sinusoid regression: maml_sinusoid with learned per-parameter
inner rates, initialised uniform in [0.005, 0.1] (the Meta-SGD paper's).

The Meta-SGD paper reports 0.482 / 0.258 / 0.127 for K = 5 / 10 / 20
(one step; see benchmarks/sinusoid_bench.py). Measured with this config
(K = 5, seed 0, 20,000 steps in 79 s on a busy 2-core CPU): test MSE
0.475 +- 0.029 (paper 0.482 +- 0.061).

The reference reproduction of the Meta-SGD paper's Table 1 is
benchmarks/sinusoid_bench.py: 50 seeds under the MAML code's protocol
(70,000 steps, MAML-code initialisation) and under the Meta-SGD paper's (the
README's "sinusoid against the Meta-SGD paper" table). This config is a
shorter CPU budget with Flax's initialisation.

Launch (K = 5, 10, 20):
  jaxssl train configs/meta_sgd_sinusoid.py --workdir runs/meta_sgd_sinusoid_5shot
  jaxssl train configs/meta_sgd_sinusoid.py --workdir runs/meta_sgd_sinusoid_10shot \
      --config.episodes.shot=10 --config.episodes.query=10
  jaxssl train configs/meta_sgd_sinusoid.py --workdir runs/meta_sgd_sinusoid_20shot \
      --config.episodes.shot=20 --config.episodes.query=20
"""

from jaxssl.config_utils import load_sibling


def get_config():
    config = load_sibling(__file__, "maml_sinusoid")
    config.method = dict(
        name="meta_sgd",
        inner_lr=(0.005, 0.1),
        inner_steps=1,
        test_inner_steps=1,
        first_order=False,
    )
    return config
