"""SimCLR on scikit-learn's digits (8x8): MLP encoder, kNN and linear probe.

Launch:
  jaxssl train configs/simclr_digits.py --workdir runs/simclr_digits

Smoke variant (a few seconds):
  jaxssl train configs/simclr_digits.py --workdir /tmp/simclr \
      --config.train.total_steps=20 --config.optim.schedule.warmup_steps=2
"""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
    config = ml_collections.ConfigDict()
    config.seed = 0
    config.parallel = "jit"  # "jit" (sharded jit over a mesh) or "pmap"
    config.num_devices = 0  # 0 = all devices

    config.method = dict(
        name="simclr",
        # Both views; no flip: mirrored digits are other digits (or none).
        augment=(
            "resized_crop(scale=(0.3, 1.0))|brightness(strength=0.4)"
            "|contrast(strength=0.4)"
        ),
        temperature=0.5,
        projection_hidden=256,
        projection_dim=64,
        projection_norm="none",  # "none" or "layernorm"
    )
    config.model = dict(
        name="mlp",  # "mlp" or "conv"
        hidden=(256,),
        latent_dim=128,  # The representation that kNN and the probe see.
        activation="relu",
        features=(32, 64),  # conv channels (name="conv")
        conv_impl="lax",  # "lax" or "patches"
    )
    config.optim = dict(
        name="momentum",
        lr=0.3,
        momentum=0.9,
        weight_decay=1e-4,
        weight_decay_mask="no_bias_norm",
        clip_norm=0.0,
        schedule=dict(name="warmup_cosine", warmup_steps=100),
    )
    config.input = dict(
        dataset="digits",  # "digits", "idx:<dir>" or "tfds:<name>"
        data_dir=None,
        batch_size=256,
        augment="",  # The views are augmented inside the objective.
    )
    config.train = dict(total_steps=2000, log_every=100, ckpt_every=1000)
    config.evals = dict(
        every=500,
        knn_k=20,
        raw_baseline=True,
        embedding_plot=True,
        final_probe=True,  # L-BFGS linear probe on the encoder features
    )
    return config
