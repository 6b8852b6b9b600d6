"""Instance discrimination with a memory bank (InstDisc, Wu et al. 2018).

Every training image is its own class. The encoder and a linear head map an
augmented view of image ``i`` to an L2-normalised feature ``f_i``; a memory
bank (``extra["bank"]``, one unit row per training example) holds a running
average ``v_i`` of each example's past features. The non-parametric softmax
``P(i | f) = exp(v_i . f / T) / sum_j exp(v_j . f / T)`` is maximised for the
example's own entry (:func:`instance_discrimination_loss`), either over the
whole bank (``num_negatives=0``: the exact softmax, cheap for small sets) or
over ``m`` negatives sampled uniformly from the bank, shared by the batch,
with the example's own entry masked out of them (a sampled softmax in place
of the paper's NCE approximation).

After the loss, the bank rows of the batch's examples move towards the new
features, ``v_i <- normalize(mu v_i + (1 - mu) f_i)`` (the paper's momentum
update; ``mu = 0.5``); the objective returns the new bank as ``aux["extra"]``.
Which rows belong to a batch comes from ``batch["index"]`` (each example's
position in the training set, as ``jaxssl.data.get_batch`` returns it).

Multi-device: under sharded ``jax.jit`` the objective sees the global batch;
under ``pmap`` the features and indices are all-gathered
(``gather_rows(..., bound_axis_name())``), so every device applies the same
update and the replicated banks stay equal. The sampled negatives are shared
by the batch that the objective sees: the global batch under jit, each
device's rows (with that device's own samples) under pmap.

The encoder's output (before the head) is the representation that kNN and
the linear probe evaluate, as for the other contrastive methods.

Config (``method`` section): ``augment``, ``temperature`` (0.07),
``num_negatives`` (0 = the whole bank), ``bank_momentum`` (0.5),
``bank_size`` (0 = the size of the training set), ``projection_dim`` (128).

References:
  Wu, Xiong, Yu & Lin, "Unsupervised Feature Learning via Non-Parametric
  Instance Discrimination" (CVPR 2018), https://arxiv.org/abs/1805.01978
"""

from __future__ import annotations

import dataclasses
import numbers
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax
from jax.typing import ArrayLike

from jaxssl import data as data_lib
from jaxssl.losses.contrastive import l2_normalize
from jaxssl.methods.base import Batch, MethodBase, register
from jaxssl.methods.contrastive_common import bound_axis_name, gather_rows
from jaxssl.methods.simclr import (
    augment_spec,
    check_fields,
    choice,
    positive_float,
    positive_int,
)
from jaxssl.models import build_encoder

_EVAL_VIEW_SEED = 4321
# Full float32 similarities (no TF32 on GPUs): T = 0.07 amplifies errors 14x.
_PRECISION = jax.lax.Precision.HIGHEST


def instance_discrimination_loss(
    features: ArrayLike,
    bank: ArrayLike,
    indices: ArrayLike,
    *,
    negative_indices: ArrayLike | None = None,
    temperature: float | ArrayLike = 0.07,
) -> jax.Array:
    """Compute the non-parametric softmax loss of features against a memory bank.

    Row ``b`` of ``features`` is an example whose bank entry is
    ``bank[indices[b]]`` (the positive). With ``negative_indices=None`` the
    candidates are all ``N`` bank rows (the paper's exact softmax); otherwise
    they are the positive plus the rows ``bank[negative_indices]`` (shared by
    the batch), where a sampled row equal to the example's own entry is
    masked out (it is not a negative). Features and bank rows are L2-normalised
    here; the bank is not differentiated.

    Args:
      features: [B, D] the batch's embeddings.
      bank: [N, D] the memory bank.
      indices: int [B] each example's row in the bank.
      negative_indices: optional int [M] sampled bank rows.
      temperature: softmax temperature (> 0); the paper uses 0.07.

    Returns:
      Scalar float32: mean over the batch of ``-log P(indices[b] | f_b)``.

    Raises:
      ValueError: on shape mismatches or a non-positive temperature.

    References:
      Wu et al., "Unsupervised Feature Learning via Non-Parametric Instance
      Discrimination" (CVPR 2018), https://arxiv.org/abs/1805.01978 (Eq. 2).
    """
    features = jnp.asarray(features, jnp.float32)
    bank = jnp.asarray(bank, jnp.float32)
    indices = jnp.asarray(indices)
    if features.ndim != 2 or bank.ndim != 2 or features.shape[1] != bank.shape[1]:
        raise ValueError(
            f"instance_discrimination_loss: features [B, D] and bank [N, D] must "
            f"share D, got {features.shape} and {bank.shape}"
        )
    if indices.shape != features.shape[:1]:
        raise ValueError(
            f"instance_discrimination_loss: indices must have shape "
            f"({features.shape[0]},), got {indices.shape}"
        )
    if isinstance(temperature, numbers.Real) and not temperature > 0:
        raise ValueError(
            "instance_discrimination_loss: temperature must be > 0, got "
            f"{temperature!r}"
        )
    features = l2_normalize(features)
    bank = jax.lax.stop_gradient(l2_normalize(bank))
    if negative_indices is None:
        logits = jnp.matmul(features, bank.T, precision=_PRECISION)  # [B, N]
        labels = indices
    else:
        negative_indices = jnp.asarray(negative_indices)
        if negative_indices.ndim != 1:
            raise ValueError(
                "instance_discrimination_loss: negative_indices must be [M], got "
                f"{negative_indices.shape}"
            )
        positives = jnp.take(bank, indices, axis=0)  # [B, D]
        negatives = jnp.take(bank, negative_indices, axis=0)  # [M, D]
        positive_logits = jnp.sum(features * positives, axis=1, keepdims=True)
        negative_logits = jnp.matmul(features, negatives.T, precision=_PRECISION)
        own = negative_indices[None, :] == indices[:, None]  # [B, M]
        negative_logits = jnp.where(own, -jnp.inf, negative_logits)
        logits = jnp.concatenate([positive_logits, negative_logits], axis=1)
        labels = jnp.zeros(indices.shape, jnp.int32)
    logits = logits / jnp.asarray(temperature, jnp.float32)
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()


def momentum_bank_update(
    bank: ArrayLike, indices: ArrayLike, features: ArrayLike, momentum: float
) -> jax.Array:
    """Move bank rows towards new features: ``normalize(mu v + (1 - mu) f)``.

    Args:
      bank: [N, D] the memory bank.
      indices: int [B] distinct rows to update.
      features: [B, D] the new features of those rows (normalised here).
      momentum: ``mu`` in [0, 1]; 0 replaces the rows by the features.

    Returns:
      [N, D]: the bank with rows ``indices`` updated, the others unchanged.
    """
    bank = jnp.asarray(bank)
    features = l2_normalize(jax.lax.stop_gradient(jnp.asarray(features)))
    old = jnp.take(bank, indices, axis=0)
    new = l2_normalize(momentum * old + (1.0 - momentum) * features)
    return bank.at[indices].set(new.astype(bank.dtype))


def _fill_unvisited(bank, visited, indices, embeddings):
    """``bank`` with the not-yet-visited rows of ``indices`` set to their
    (normalised, gradient-stopped) ``embeddings``."""
    old = jnp.take(bank, indices, axis=0)
    new = l2_normalize(jax.lax.stop_gradient(embeddings)).astype(bank.dtype)
    seen = jnp.take(visited, indices)[:, None]
    return bank.at[indices].set(jnp.where(seen, old, new))


@dataclasses.dataclass(frozen=True)
class InstDisc(MethodBase):
    """Encoder + linear head trained to tell every training image apart.

    Attributes:
      encoder: Flax module, images [B, H, W, C] -> features [B, latent_dim].
      projector: Flax module, features -> embeddings [B, projection_dim].
      augment: augmentation pipeline string for the one view per image.
      bank_size: number of bank rows ``N`` (the training set size).
      temperature: softmax temperature (> 0).
      num_negatives: sampled negatives per batch; 0 uses the whole bank.
      bank_momentum: ``mu`` of the bank update, in [0, 1).
      bank_init: ``"random"`` (the paper: random unit rows, which the first
        visit mixes into with momentum) or ``"first_visit"``: a row holds
        its example's own embedding from the first time it is drawn (which is
        also that step's positive), and momentum from then on. A small
        encoder without batch norm maps every image to nearly the same
        direction at initialisation; against random positives the loss then
        grows and the embeddings stay collapsed (Fashion-MNIST, conv encoder:
        per-dimension embedding std 2e-4 after 400 steps at lr 0.01-0.1 and
        temperature 0.07-0.5), while first-visit rows start every positive
        at cosine 1 and training spreads them.
    """

    encoder: nn.Module
    projector: nn.Module
    augment: str
    bank_size: int
    temperature: float = 0.07
    num_negatives: int = 4096
    bank_momentum: float = 0.5
    bank_init: str = "random"
    name: str = "instdisc"

    def init(self, rng: jax.Array, sample_batch: Batch) -> tuple[Any, Any]:
        rng_enc, rng_proj, rng_bank = jax.random.split(rng, 3)
        images = sample_batch["image"]
        enc_params = self.encoder.init(rng_enc, images)
        features = self.encoder.apply(enc_params, images)
        proj_params = self.projector.init(rng_proj, features)
        # Random unit rows, as in the paper; each is overwritten (with
        # momentum) the first time its example is drawn.
        bank = l2_normalize(
            jax.random.normal(rng_bank, (self.bank_size, self.projector.features))
        )
        extra = {"bank": bank}
        if self.bank_init == "first_visit":
            extra["visited"] = jnp.zeros((self.bank_size,), jnp.bool_)
        return {"encoder": enc_params, "projector": proj_params}, extra

    def embed(self, params, images: jax.Array) -> jax.Array:
        """L2-normalised head embeddings [B, projection_dim] of ``images``."""
        features = self.encoder.apply(params["encoder"], images)
        return l2_normalize(self.projector.apply(params["projector"], features))

    def make_objective(self, extra):
        bank = extra["bank"]
        augment_fn = data_lib.make_augment_fn(self.augment)

        def objective(params, batch: Batch, rng: jax.Array):
            if "index" not in batch:
                raise ValueError(
                    "instdisc needs batch['index'] (each example's row in the "
                    "training set, from jaxssl.data.get_batch)"
                )
            indices = jnp.asarray(batch["index"], jnp.int32)
            rng_view, rng_negatives = jax.random.split(rng)
            embeddings = self.embed(params, augment_fn(rng_view, batch["image"]))
            negative_indices = None
            if self.num_negatives:
                negative_indices = jax.random.randint(
                    rng_negatives, (self.num_negatives,), 0, self.bank_size
                )
            # Under pmap every device writes the global batch's rows, so the
            # replicated banks stay equal; under jit the batch is global.
            axis_name = bound_axis_name()
            all_indices = gather_rows(indices, axis_name)
            all_embeddings = gather_rows(embeddings, axis_name)
            new_extra, bank_now = dict(extra), bank
            if self.bank_init == "first_visit":
                # Unvisited rows take the example's own (constant) embedding.
                visited = extra["visited"]
                bank_now = _fill_unvisited(bank, visited, all_indices, all_embeddings)
                new_extra["visited"] = visited.at[all_indices].set(True)
            loss = instance_discrimination_loss(
                embeddings,
                bank_now,
                indices,
                negative_indices=negative_indices,
                temperature=self.temperature,
            )
            new_extra["bank"] = momentum_bank_update(
                bank_now, all_indices, all_embeddings, self.bank_momentum
            )
            positives = jnp.take(bank_now, indices, axis=0)
            metrics = {
                "positive_cosine": jnp.mean(jnp.sum(embeddings * positives, axis=1)),
                "embedding_std": jnp.mean(jnp.std(embeddings, axis=0)),
            }
            return loss, {"metrics": metrics, "extra": new_extra}

        return objective

    def encode(self, params, extra, images: jax.Array) -> jax.Array:
        del extra
        return self.encoder.apply(params["encoder"], images)

    def eval_metrics(self, params, extra, batch: Batch) -> dict[str, jax.Array]:
        """Spread of test embeddings and their mean top-1 cosine to the bank.

        Test images have no bank rows, so there is no positive to score.
        """
        augment_fn = data_lib.make_augment_fn(self.augment)
        view = augment_fn(jax.random.key(_EVAL_VIEW_SEED), batch["image"])
        embeddings = self.embed(params, view)
        cosines = jnp.matmul(embeddings, extra["bank"].T, precision=_PRECISION)
        return {
            "embedding_std": jnp.mean(jnp.std(embeddings, axis=0)),
            "bank_top1_cosine": jnp.mean(jnp.max(cosines, axis=1)),
        }


INSTDISC_FIELDS = (
    "augment",
    "temperature",
    "num_negatives",
    "bank_momentum",
    "bank_size",
    "bank_init",
    "projection_dim",
)
BANK_INITS = ("random", "first_visit")
DEFAULT_AUGMENT = "resized_crop(scale=(0.3, 1.0))|brightness(strength=0.4)"


def _nonnegative_int(config, field: str, default: int) -> int:
    value = config.method.get(field, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"method.{field}={value!r} must be an integer >= 0")
    return value


def _bank_momentum(config) -> float:
    value = config.method.get("bank_momentum", 0.5)
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if not ok or not 0 <= value < 1:
        raise ValueError(
            f"method.bank_momentum={value!r} must be a number in [0, 1) "
            "(1 would never write a feature into the bank)"
        )
    return float(value)


def training_set_size(config) -> int:
    """Examples the trainer trains on (the subset for ``labels_per_class``).

    The dataset load is cached (``load_dataset``), so after the trainer's own
    load this costs nothing.
    """
    return int(data_lib.training_set(config)[1].shape[0])


def _bank_size(config) -> int:
    size = _nonnegative_int(config, "bank_size", 0)
    needed = training_set_size(config)
    if size and size < needed:
        raise ValueError(
            f"method.bank_size={size} is smaller than the {needed} training "
            "examples (one bank row per example); use 0 for the training set size"
        )
    return size or needed


@register("instdisc")
def make_instdisc(config, image_shape, num_classes) -> InstDisc:
    del num_classes
    check_fields(config, INSTDISC_FIELDS)
    encoder = build_encoder(config.model, image_shape)
    return InstDisc(
        encoder,
        nn.Dense(positive_int(config, "projection_dim", 128)),  # The paper's FC.
        augment=augment_spec(config, DEFAULT_AUGMENT),
        bank_size=_bank_size(config),
        temperature=positive_float(config, "temperature", 0.07),
        num_negatives=_nonnegative_int(config, "num_negatives", 4096),
        bank_momentum=_bank_momentum(config),
        bank_init=choice(config, "bank_init", "random", BANK_INITS),
    )
