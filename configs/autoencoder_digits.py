"""MLP autoencoder on scikit-learn's digits, evaluated by linear probe and kNN.

Launch:
  jaxssl train configs/autoencoder_digits.py --workdir runs/autoencoder_digits

Smoke variant (a few seconds):
  jaxssl train configs/autoencoder_digits.py --workdir /tmp/ae \
      --config.train.total_steps=20 --config.optim.schedule.warmup_steps=2
"""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
    config = ml_collections.ConfigDict()
    config.seed = 0
    config.parallel = "jit"  # "jit" (sharded jit over a mesh) or "pmap"
    config.num_devices = 0  # 0 = all devices

    config.method = dict(
        name="autoencoder",
        reconstruction="mse",  # "mse" or "bernoulli"
        code_activation="linear",  # "linear" or "sigmoid"
        sparsity_weight=0.0,  # > 0: sparse AE (needs sigmoid codes)
        sparsity_target=0.05,
        contractive_weight=0.0,  # > 0: contractive AE
        noise="",  # e.g. "noise(std=0.5)": denoising AE
        eval_noise="",  # corruption for the test noisy_mse metric
    )
    config.model = dict(
        name="mlp",  # "mlp" or "conv"
        hidden=(256, 128),
        latent_dim=32,
        activation="relu",
        features=(32, 64),  # conv channels (name="conv")
        conv_impl="lax",  # "lax" or "patches"
    )
    config.optim = dict(
        name="adam",
        lr=2e-3,
        weight_decay=0.0,
        clip_norm=0.0,
        schedule=dict(name="warmup_cosine", warmup_steps=100),
    )
    config.input = dict(
        dataset="digits",  # "digits", "idx:<dir>" or "tfds:<name>"
        data_dir=None,
        batch_size=128,
        augment="",  # e.g. "translate(max_shift=1)|noise(std=0.1)"
        labels_per_class=0,  # > 0: train on k labeled examples per class only
        label_seed=0,
    )
    config.train = dict(total_steps=3000, log_every=100, ckpt_every=500)
    config.evals = dict(
        every=1000,
        knn_k=20,
        raw_baseline=True,
        embedding_plot=True,
        final_probe=True,  # L-BFGS linear probe on the codes at the end
    )
    return config
