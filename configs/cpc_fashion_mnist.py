"""CPC on Fashion-MNIST (IDX files): 6x6 grid of 8x8 patches, conv patch encoder.

The 28x28 image is cut into 8x8 patches with stride 4 (a 6x6 grid, 50%
overlap, as in CPC v2); a small conv net encodes each patch, the causal
context network summarises the rows above, and linear predictors guess the
patch embeddings 2 and 3 rows below (offset 1 is left out: a patch one row
down shares half its pixels with patches the context has seen). Negatives
come from the patches of groups of 32 images (8 x 36 x 32 = 9216 scored rows
per offset, not a 9216 x 9216 score matrix).

Data: `apt-get install dataset-fashion-mnist` (Debian) puts the IDX files in
/usr/share/datasets/fashion-mnist; any folder with the four IDX files works
via --config.input.dataset=idx:DIR.

Launch:
  jaxssl train configs/cpc_fashion_mnist.py --workdir runs/cpc_fashion_mnist

Smoke variant (a minute on CPU):
  jaxssl train configs/cpc_fashion_mnist.py --workdir /tmp/cpc_fm \
      --config.train.total_steps=20 --config.optim.schedule.warmup_steps=2 \
      --config.evals.every=0 --config.evals.embedding_plot=False
"""

from jaxssl.config_utils import load_sibling

FASHION_MNIST = "idx:/usr/share/datasets/fashion-mnist"


def get_config():
    config = load_sibling(__file__, "cpc_digits")
    config.input.dataset = FASHION_MNIST
    config.input.batch_size = 256
    config.method.patch_size = 8
    config.method.patch_stride = 4
    config.method.steps = (2, 3)
    config.method.context_features = 128
    config.method.context_layers = 3
    config.method.negative_group = 32
    # Clothes are left-right symmetric, so flips are label-preserving here.
    config.method.augment = "flip|translate(max_shift=2)"
    config.model.name = "conv"  # On each 8x8 patch: 4x4x32 -> 2x2x64 -> 128.
    config.model.features = (32, 64)
    config.model.latent_dim = 128
    config.model.conv_impl = "patches"  # Faster than lax.conv on XLA:CPU.
    # Quadrant-pooled patch embeddings (4 x 128) for the probe: 2-core CPU,
    # 1500 steps, probe 0.893 vs raw pixels 0.847 and random init 0.862; the
    # global mean ("patches") gave 0.842 (H100, 3000 steps; random 0.803).
    config.method.features = "patches_2x2"
    config.optim.lr = 1e-3
    config.train.total_steps = 10000
    config.train.ckpt_every = 1000
    config.evals.every = 2000
    return config
