"""DeepCluster on scikit-learn's digits (8x8): MLP encoder, k-means pseudo-labels.

Launch:
  jaxssl train configs/deepcluster_digits.py --workdir runs/deepcluster_digits

Smoke variant (a few seconds):
  jaxssl train configs/deepcluster_digits.py --workdir /tmp/deepcluster \
      --config.train.total_steps=20 --config.optim.schedule.warmup_steps=2
"""

from jaxssl.config_utils import load_sibling


def get_config():
    config = load_sibling(__file__, "rotation_digits")
    config.method = dict(
        name="deepcluster",
        num_clusters=50,  # over-clustering (10 classes), as the paper does
        recluster_every=100,  # updates between k-means runs (~18 epochs of 1,437)
        pca_dim=32,  # whitened dims before k-means (<= model.latent_dim)
        kmeans_iters=50,
        kmeans_restarts=3,
        augment="translate(max_shift=1)|brightness(strength=0.2)",
        head_hidden=(),  # linear head on the features
        balance="weight",  # clusters weighted equally ("weight") or "none"
    )
    return config
