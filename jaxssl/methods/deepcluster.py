"""DeepCluster: alternate k-means on encoder features and training on the clusters.

Every ``recluster_every`` steps (an "epoch"), the encoder embeds the whole
training set; the features are PCA-whitened to ``pca_dim`` dimensions and
L2-normalised, and ``jaxssl.classical.kmeans`` (k-means++ seeding, the best
of ``kmeans_restarts`` runs, empty clusters re-seeded) assigns each image a
pseudo-label among ``num_clusters``. The classifier head is then reset to a
fresh random initialisation (the old clusters' ids mean nothing for the new
ones) and the encoder and head are trained with cross-entropy on the
pseudo-labels until the next re-clustering. The first clustering happens in
``init``, on the random encoder, as in the paper.

How it fits the generic trainer, with no trainer change:

* The training images (uint8) are loaded by the factory (the same cached load
  and labeled subset as the trainer's) and kept in ``extra["images"]``, so
  the jitted ``post_update`` can embed them; they are replicated with the
  state and saved in checkpoints (``N * H * W * C`` bytes: 0.1 MB for digits,
  47 MB for Fashion-MNIST).
* Re-clustering runs in ``post_update`` under ``lax.cond`` on
  ``(step + 1) % recluster_every == 0``, i.e. after every ``recluster_every``
  updates. Its key is ``fold_in(key(seed), step)``, so a resumed run re-clusters
  identically.
* The head cannot be re-initialised in ``params`` (``post_update`` only
  returns ``extra``), so the head in use is ``params["head"] +
  extra["head_offset"]``; a reset sets ``head_offset = fresh -
  params["head"]``, which makes the head in use exactly ``fresh``, and since
  the offset is a constant the gradients are the same as for a head stored in
  ``params``. Not reset: the optimizer's state for the head (e.g. momentum),
  and weight decay acts on ``params["head"]`` rather than on the head in use;
  both are small effects next to the paper's plain SGD reset.
* Pseudo-labels are looked up with ``batch["index"]`` (each example's row in
  the training set, which the trainer's batches carry).

"Uniform sampling over pseudo-classes" (the paper's guard against collapse
into a few big clusters) is done by weighting, not sampling: example ``i`` of
cluster ``c`` gets weight ``N / (K * n_c)`` and the loss is the batch mean of
weighted cross-entropies. Its expectation over uniformly drawn examples is
the mean over clusters of each cluster's mean loss, which is what sampling
clusters uniformly gives; the batch mean (not a weighted mean) keeps it the
same under ``pmap`` and ``jit``.

``encode`` gives the encoder features (before the head) for kNN and the
linear probe. The paper's Sobel pre-filter is not applied (it removes colour
from RGB images; the datasets here are grayscale).

Config (``method`` section): ``num_clusters``, ``recluster_every``,
``pca_dim``, ``kmeans_iters``, ``kmeans_restarts``, ``augment``,
``head_hidden``, ``balance`` ("weight" or "none").

References:
  Caron, Bojanowski, Joulin & Douze, "Deep Clustering for Unsupervised
  Learning of Visual Features" (ECCV 2018), https://arxiv.org/abs/1807.05520
"""

from __future__ import annotations

import dataclasses
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxssl import data as data_lib
from jaxssl.classical import kmeans, pca
from jaxssl.data import make_augment_fn
from jaxssl.losses.contrastive import l2_normalize
from jaxssl.methods.base import Batch, MethodBase, register
from jaxssl.methods.rotation import (
    ClassifierHead,
    head_widths,
    optional_augment,
    pretext_accuracy,
)
from jaxssl.methods.simclr import check_fields, choice, positive_int
from jaxssl.models import build_encoder

BALANCES = ("weight", "none")
_FEATURE_CHUNK = 1024  # Images embedded at once during re-clustering.


def cluster_weights(labels: jax.Array, sizes: jax.Array) -> jax.Array:
    """Per-example weights ``N / (K * n_c)`` that balance the clusters.

    Args:
      labels: [B] int pseudo-labels of the batch.
      sizes: [K] number of training examples in each cluster (all > 0).

    Returns:
      [B] float32 weights; over the whole training set they average to 1 and
      every cluster's weights sum to ``N / K``.
    """
    sizes = sizes.astype(jnp.float32)
    total, num_clusters = jnp.sum(sizes), sizes.shape[0]
    return total / (num_clusters * jnp.maximum(sizes[labels], 1.0))


def embed_all(encode_fn, images: jax.Array, chunk: int = _FEATURE_CHUNK) -> jax.Array:
    """Features [N, D] of uint8 ``images`` [N, H, W, C], ``chunk`` at a time."""
    n = images.shape[0]
    chunk = min(chunk, n)
    pad = (-n) % chunk
    padded = jnp.concatenate(
        [images, jnp.zeros((pad, *images.shape[1:]), images.dtype)]
    )
    chunks = padded.reshape(-1, chunk, *images.shape[1:])
    features = jax.lax.map(lambda x: encode_fn(data_lib.to_float(x)), chunks)
    return features.reshape(-1, features.shape[-1])[:n]


def whiten_and_normalize(features: jax.Array, pca_dim: int) -> jax.Array:
    """PCA-whiten ``features`` [N, D] to ``pca_dim`` dims, then L2-normalise rows."""
    result = pca(features, pca_dim)
    return l2_normalize(result.transform(features, whiten=True))


@dataclasses.dataclass(frozen=True, eq=False)
class DeepCluster(MethodBase):
    """Encoder + head trained on k-means pseudo-labels that are renewed every epoch.

    Attributes:
      encoder: Flax module, images [B, H, W, C] -> features [B, latent_dim].
      head: Flax module, features -> [B, num_clusters] logits.
      train_images: uint8 [N, H, W, C] training set (copied into ``extra``).
      num_clusters: k of k-means (the number of pseudo-classes).
      recluster_every: updates between re-clusterings.
      pca_dim: whitened dimensions before k-means.
      kmeans_iters, kmeans_restarts: k-means budget.
      augment: pipeline string for the training views ("" for none).
      balance: "weight" (clusters weighted equally) or "none".
      seed: base key of the clustering and head re-initialisation.
    """

    encoder: nn.Module
    head: nn.Module
    train_images: np.ndarray
    num_clusters: int
    recluster_every: int
    pca_dim: int = 32
    kmeans_iters: int = 50
    kmeans_restarts: int = 3
    augment: str = ""
    balance: str = "weight"
    seed: int = 0
    name: str = "deepcluster"

    def init(self, rng: jax.Array, sample_batch: Batch) -> tuple[Any, Any]:
        rng_enc, rng_head, rng_cluster = jax.random.split(rng, 3)
        images = sample_batch["image"]
        enc_params = self.encoder.init(rng_enc, images)
        features = self.encoder.apply(enc_params, images)
        params = {"encoder": enc_params, "head": self.head.init(rng_head, features)}
        extra = {
            "images": jnp.asarray(self.train_images, jnp.uint8),
            "labels": jnp.zeros(self.train_images.shape[:1], jnp.int32),
            "cluster_sizes": jnp.ones((self.num_clusters,), jnp.int32),
            "head_offset": jax.tree.map(jnp.zeros_like, params["head"]),
        }
        # The first pseudo-labels come from the random encoder.
        return params, jax.jit(self.recluster)(params, extra, rng_cluster)

    def head_in_use(self, params, extra):
        """The head's current weights: ``params["head"] + extra["head_offset"]``."""
        return jax.tree.map(jnp.add, params["head"], extra["head_offset"])

    def recluster(self, params, extra, rng: jax.Array):
        """New pseudo-labels from k-means on the current features; fresh head.

        Args:
          params: current parameters (the encoder embeds the training set).
          extra: the method state; ``extra["images"]`` is the training set.
          rng: key for k-means and the head's re-initialisation.

        Returns:
          ``extra`` with new ``labels`` [N], ``cluster_sizes`` [K] and a
          ``head_offset`` that makes the head in use a fresh initialisation.
        """
        rng_kmeans, rng_head = jax.random.split(rng)
        encoder_params = jax.lax.stop_gradient(params["encoder"])
        features = embed_all(
            lambda x: self.encoder.apply(encoder_params, x), extra["images"]
        )
        points = whiten_and_normalize(features, self.pca_dim)
        result = kmeans(
            points,
            self.num_clusters,
            rng_kmeans,
            self.kmeans_iters,
            num_restarts=self.kmeans_restarts,
        )
        sizes = jnp.zeros((self.num_clusters,), jnp.int32).at[result.labels].add(1)
        fresh = self.head.init(rng_head, features[:1])
        offset = jax.tree.map(jnp.subtract, fresh, params["head"])
        return {
            **extra,
            "labels": result.labels,
            "cluster_sizes": sizes,
            "head_offset": offset,
        }

    def post_update(self, params, extra, step: jax.Array):
        due = (step + 1) % self.recluster_every == 0
        rng = jax.random.fold_in(jax.random.key(self.seed), step)
        return jax.lax.cond(
            due, lambda: self.recluster(params, extra, rng), lambda: extra
        )

    def make_objective(self, extra):
        labels_all, sizes = extra["labels"], extra["cluster_sizes"]

        def objective(params, batch: Batch, rng: jax.Array):
            images = batch["image"]
            if self.augment:
                images = make_augment_fn(self.augment)(rng, images)
            labels = labels_all[batch["index"]]
            features = self.encoder.apply(params["encoder"], images)
            logits = self.head.apply(self.head_in_use(params, extra), features)
            losses = optax.softmax_cross_entropy_with_integer_labels(logits, labels)
            if self.balance == "weight":
                losses = losses * cluster_weights(labels, sizes)
            metrics = {
                "pseudo_label_accuracy": pretext_accuracy(logits, labels),
                "largest_cluster_fraction": jnp.max(sizes) / jnp.sum(sizes),
            }
            return jnp.mean(losses), {"metrics": metrics}

        return objective

    def encode(self, params, extra, images: jax.Array) -> jax.Array:
        del extra
        return self.encoder.apply(params["encoder"], images)

    def eval_metrics(self, params, extra, batch: Batch) -> dict[str, jax.Array]:
        """Head confidence on test images and the clustering's state."""
        features = self.encoder.apply(params["encoder"], batch["image"])
        logits = self.head.apply(self.head_in_use(params, extra), features)
        sizes = extra["cluster_sizes"]
        return {
            "head_max_probability": jnp.mean(jnp.max(jax.nn.softmax(logits), axis=-1)),
            "nonempty_clusters": jnp.sum(sizes > 0).astype(jnp.float32),
            "largest_cluster_fraction": jnp.max(sizes) / jnp.sum(sizes),
        }


DEEPCLUSTER_FIELDS = (
    "num_clusters",
    "recluster_every",
    "pca_dim",
    "kmeans_iters",
    "kmeans_restarts",
    "augment",
    "head_hidden",
    "balance",
)


def training_images(config) -> np.ndarray:
    """The uint8 images the trainer trains on (its cached load and subset)."""
    return np.asarray(data_lib.training_set(config)[0], np.uint8)


@register("deepcluster")
def make_deepcluster(config, image_shape, num_classes) -> DeepCluster:
    del num_classes
    check_fields(config, DEEPCLUSTER_FIELDS)
    num_clusters = positive_int(config, "num_clusters", 100)
    recluster_every = positive_int(config, "recluster_every", 100)
    pca_dim = positive_int(config, "pca_dim", 32)
    latent_dim = config.model.latent_dim
    if pca_dim > latent_dim:
        raise ValueError(
            f"method.pca_dim={pca_dim} exceeds model.latent_dim={latent_dim} "
            "(the features' dimension)"
        )
    images = training_images(config)
    if num_clusters > images.shape[0] or pca_dim > images.shape[0]:
        raise ValueError(
            f"method.num_clusters={num_clusters} and method.pca_dim={pca_dim} must "
            f"not exceed the {images.shape[0]} training examples"
        )
    if tuple(images.shape[1:]) != tuple(image_shape):
        raise ValueError(
            f"training images {images.shape[1:]} do not match image_shape {image_shape}"
        )
    encoder = build_encoder(config.model, image_shape)
    return DeepCluster(
        encoder,
        ClassifierHead(head_widths(config), num_clusters),
        images,
        num_clusters=num_clusters,
        recluster_every=recluster_every,
        pca_dim=pca_dim,
        kmeans_iters=positive_int(config, "kmeans_iters", 50),
        kmeans_restarts=positive_int(config, "kmeans_restarts", 3),
        augment=optional_augment(config),
        balance=choice(config, "balance", "weight", BALANCES),
        seed=config.seed,
    )
