"""CMC on scikit-learn's digits (8x8): three views, one MLP encoder each.

Views: the image, its Sobel gradient magnitude and its Laplacian, each made
from its own augmented copy of the image; ``multiview_nce`` over all view
pairs (CMC's full graph). kNN and the linear probe see the three encoders'
features concatenated.

Launch:
  jaxssl train configs/cmc_digits.py --workdir runs/cmc_digits

Smoke variant (a few seconds):
  jaxssl train configs/cmc_digits.py --workdir /tmp/cmc \
      --config.train.total_steps=20 --config.optim.schedule.warmup_steps=2
"""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
    config = ml_collections.ConfigDict()
    config.seed = 0
    config.parallel = "jit"  # "jit" (sharded jit over a mesh) or "pmap"
    config.num_devices = 0  # 0 = all devices

    config.method = dict(
        name="cmc",
        views=("identity", "sobel", "laplacian"),  # See jaxssl/methods/cmc.py.
        # No flip: mirrored digits are other digits (or none).
        augment=(
            "resized_crop(scale=(0.3, 1.0))|brightness(strength=0.4)"
            "|contrast(strength=0.4)"
        ),
        independent_augment=True,  # Each view from its own augmented copy.
        pairs="full",  # "full" (every pair of views) or "core" (pairs with view 0)
        temperature=0.2,
        projection_hidden=256,
        projection_dim=64,
        projection_norm="none",  # "none" or "layernorm"
        features="concat",  # encode(): "concat" (all views) or "first"
    )
    config.model = dict(  # One encoder of this shape per view.
        name="mlp",  # "mlp" or "conv"
        hidden=(256,),
        latent_dim=64,  # Per view; the representation is 3 x 64 = 192 wide.
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
