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

from jaxssl.config_utils import load_sibling


def get_config():
    config = load_sibling(__file__, "autoencoder_digits")
    config.method = dict(
        name="vae",
        likelihood="bernoulli",  # "bernoulli" (logits) or "gaussian"
        beta=1.0,  # KL weight in the loss (beta-VAE); reported ELBO uses 1
        iwae_samples=1000,  # K of the final test IWAE bound; 0 disables it
        binarize_eval=True,  # fixed stochastic binarisation of the test set
    )
    config.model.latent_dim = 8
    config.optim.lr = 1e-3
    config.input.augment = "binarize"
    config.train.ckpt_every = 1000
    return config
