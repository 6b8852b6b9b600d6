"""MLP VAE on scikit-learn's digits, dynamically binarised, with a Bernoulli decoder.

Trains on ``x ~ Bernoulli(pixel grey level)`` redrawn every step
(``input.augment="binarize"``) and reports, in nats per test example, the
ELBO and the IWAE bound with 1,000 importance samples on a fixed stochastic
binarisation of the test set. A couple of minutes on 2 CPU cores.

Launch:
  jaxssl train configs/vae_digits.py --workdir runs/vae_digits

Smoke variant (a few seconds):
  jaxssl train configs/vae_digits.py --workdir /tmp/vae \
      --config.train.total_steps=20 --config.optim.schedule.warmup_steps=2 \
      --config.method.iwae_samples=10

2-D latent with the latent-map picture:
  jaxssl train configs/vae_digits.py --workdir runs/vae_digits_2d \
      --config.model.latent_dim=2
"""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
    config = ml_collections.ConfigDict()
    config.seed = 0
    config.parallel = "jit"  # "jit" (sharded jit over a mesh) or "pmap"
    config.num_devices = 0  # 0 = all devices

    config.method = dict(
        name="vae",
        likelihood="bernoulli",  # "bernoulli" (logits) or "gaussian"
        beta=1.0,  # KL weight in the loss (beta-VAE); reported ELBO uses 1
        iwae_samples=1000,  # K of the final test IWAE bound; 0 disables it
        binarize_eval=True,  # fixed stochastic binarisation of the test set
    )
    config.model = dict(
        name="mlp",  # "mlp" or "conv"
        hidden=(256, 128),
        latent_dim=8,
        activation="relu",
        features=(32, 64),  # conv channels (name="conv")
        conv_impl="lax",  # "lax" or "patches"
    )
    config.optim = dict(
        name="adam",
        lr=1e-3,
        weight_decay=0.0,
        clip_norm=0.0,
        schedule=dict(name="warmup_cosine", warmup_steps=100),
    )
    config.input = dict(
        dataset="digits", data_dir=None, batch_size=128, augment="binarize"
    )
    config.train = dict(total_steps=3000, log_every=100, ckpt_every=1000)
    config.evals = dict(every=1000, knn_k=20, raw_baseline=True, embedding_plot=True)
    return config
