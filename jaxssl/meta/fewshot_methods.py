"""Few-shot and meta-learning objectives, one registry keyed by method name.

Every method is a :class:`FewShotMethod` of three pure functions that the
episodic runner (:mod:`jaxssl.episodic`) jits, scans and vmaps:

- ``init(rng, example_x) -> params``: the meta-learned pytree.
- ``loss(params, batch, rng) -> (loss, metrics)``: the training objective on
  a batch of tasks ``{"support": {"x", "y"}, "query": {"x", "y"}}`` with a
  leading task axis (episodic methods), or on a labeled batch ``{"x", "y"}``
  of base-class images (the two baselines, ``trains_on == "batches"``).
- ``score(params, episode) -> scalar``: query accuracy (classification) or
  query mean squared error (regression) of one task after adapting to its
  support set, the quantity averaged over test episodes.

Methods (``config.method.name``):

- ``protonet``: Prototypical Networks, squared Euclidean distance to class
  means of the embedded support set (:func:`jaxssl.losses.prototypical_loss`).
- ``matching``: Matching Networks with cosine attention over the support set
  (:func:`jaxssl.losses.matching_loss`). ``method.fce=True`` adds the
  full-context embeddings (:class:`jaxssl.models.FullContextEmbedding`: a
  bidirectional LSTM over the support set, an attention LSTM of
  ``method.fce_steps`` steps, default 5, for the queries); by default both
  sets go through the plain embedding.
- ``maml``: embedding + linear head adapted by SGD on the support set,
  second-order meta-gradient; ``method.first_order=True`` is FOMAML.
- ``anil``: MAML whose inner loop adapts only the head (``trainable``).
- ``meta_sgd``: MAML with a learned per-parameter inner learning rate.
- ``meta_lstm``: the meta-learner LSTM (a learned update rule) of Ravi &
  Larochelle, with the learner's initialisation meta-learned with it.
- ``finetune``: Chen et al.'s "Baseline": embedding + linear head trained
  with cross-entropy on batches of base-class images; at test time the
  embedding is frozen and a new linear head is fitted to each support set.
- ``cosine``: "Baseline++": the same with a cosine-similarity head (scaled
  cosine of L2-normalised features and class weights), in pretraining and
  at test time.

The MAML family (``maml``, ``anil``, ``meta_sgd``, ``meta_lstm``) also does
regression (the sinusoid tasks): the head then has one output and the loss
is the mean squared error.

Batch norm is the transductive kind (``Conv4(norm="transductive")``): the
metric methods and the baselines embed an episode's support and query images
in one call; the MAML family embeds the support set and the query set in
separate calls, as in the MAML paper's code.

References:
  Snell, Swersky & Zemel (2017), https://arxiv.org/abs/1703.05175
  Vinyals et al. (2016), https://arxiv.org/abs/1606.04080
  Finn, Abbeel & Levine (2017), https://arxiv.org/abs/1703.03400
  Raghu et al. (ANIL, 2019), https://arxiv.org/abs/1909.09157
  Li et al. (Meta-SGD, 2017), https://arxiv.org/abs/1707.09835
  Ravi & Larochelle (ICLR 2017), https://openreview.net/forum?id=rJY0-Kcll
  Chen et al., "A Closer Look at Few-shot Classification" (2019),
  https://arxiv.org/abs/1904.04232
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from jaxssl.losses.fewshot import matching_loss, prototypical_loss
from jaxssl.meta.baselines import OPTIMIZERS as HEAD_OPTIMIZERS
from jaxssl.meta.baselines import baseline_accuracy, cosine_logits
from jaxssl.meta.learned_update import meta_lstm_adapt, meta_lstm_init
from jaxssl.meta.maml import maml_adapt, meta_sgd_adapt
from jaxssl.models import CONV_IMPLS, MLP, Conv4, FullContextEmbedding, build_encoder
from jaxssl.models.fewshot import CONV4_NORMS

Params = Any
Batch = Any

METRIC_METHODS = ("protonet", "matching")
ADAPTING_METHODS = ("maml", "anil", "meta_sgd", "meta_lstm")
BASELINE_METHODS = ("finetune", "cosine")
FEWSHOT_METHODS = (*METRIC_METHODS, *ADAPTING_METHODS, *BASELINE_METHODS)
REGRESSION_METHODS = ADAPTING_METHODS
FEWSHOT_MODELS = ("conv4", "resnet12", "mlp")
TASKS = ("classification", "regression")


@dataclasses.dataclass(frozen=True, eq=False)
class FewShotMethod:
    """A few-shot method as pure functions (hashed by identity: a static arg).

    Attributes:
      name: the registry name.
      init: ``init(rng, example_x) -> params``.
      loss: ``loss(params, batch, rng) -> (scalar, metrics dict)``.
      score: ``score(params, episode) -> scalar`` for one unbatched episode.
      trains_on: ``"episodes"`` or ``"batches"`` (labeled base-class images).
      score_name: ``"accuracy"`` (higher is better) or ``"mse"`` (lower).
    """

    name: str
    init: Callable[[jax.Array, jax.Array], Params]
    loss: Callable[[Params, Batch, jax.Array], tuple[jax.Array, dict]]
    score: Callable[[Params, Mapping[str, Any]], jax.Array]
    trains_on: str
    score_name: str

    @property
    def higher_is_better(self) -> bool:
        return self.score_name == "accuracy"


# --------------------------------------------------------------------------
# Config checks


def _get(section, field: str, where: str):
    if field not in section:
        raise ValueError(f"{where}.{field} is missing")
    return section[field]


def _check_int(section, field: str, where: str, low: int = 1) -> int:
    value = _get(section, field, where)
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{where}.{field}={value!r} must be an integer >= {low}")
    return value


def _check_float(section, field: str, where: str, *, positive: bool = True) -> float:
    value = _get(section, field, where)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{where}.{field}={value!r} must be a number")
    if positive and not value > 0:
        raise ValueError(f"{where}.{field}={value!r} must be > 0")
    return float(value)


def _check_bool(section, field: str, where: str) -> bool:
    value = _get(section, field, where)
    if not isinstance(value, bool):
        raise ValueError(f"{where}.{field}={value!r} must be True or False")
    return value


# --------------------------------------------------------------------------
# Models


class _MLPBody(nn.Module):
    """Flatten, then dense layers each followed by the activation."""

    hidden: tuple[int, ...]
    activation: str = "relu"

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        x = x.reshape(x.shape[0], -1)
        return MLP(self.hidden, self.activation, activate_final=True)(x)


class CosineHead(nn.Module):
    """Baseline++'s classifier: ``scale * cos(feature, w_c)`` for each class c,
    with a learned scale (starting at ``init_scale``)."""

    num_classes: int
    init_scale: float

    @nn.compact
    def __call__(self, features: jax.Array) -> jax.Array:
        weights = self.param(
            "kernel",
            nn.initializers.lecun_normal(),
            (features.shape[-1], self.num_classes),
        )
        scale = self.param(
            "scale", nn.initializers.constant(self.init_scale), (), jnp.float32
        )
        return cosine_logits(features, weights, scale)


def build_body(model_config, image_shape: tuple[int, ...]) -> nn.Module:
    """The embedding named by ``model.name``: conv4, resnet12 or mlp.

    Raises:
      ValueError: for an unknown name, norm or conv implementation.
    """
    name = _get(model_config, "name", "model")
    if name == "conv4":
        norm = model_config.get("norm", "transductive")
        if norm not in CONV4_NORMS:
            raise ValueError(f"model.norm={norm!r} is not one of: {CONV4_NORMS}")
        impl = model_config.get("conv_impl", "lax")
        if impl not in CONV_IMPLS:
            raise ValueError(f"model.conv_impl={impl!r} is not one of: {CONV_IMPLS}")
        blocks = _check_int(model_config, "num_blocks", "model")
        pool_last = model_config.get("pool_last", True)
        if not isinstance(pool_last, bool):
            raise ValueError(f"model.pool_last={pool_last!r} must be True or False")
        pools = blocks if pool_last else blocks - 1
        if min(image_shape[:2]) < 2**pools:
            raise ValueError(
                f"model.num_blocks={blocks}: images {image_shape[:2]} are smaller "
                f"than 2**{pools} (one halving per max-pool)"
            )
        return Conv4(
            features=_check_int(model_config, "features", "model"),
            norm=norm,
            conv_impl=impl,
            num_blocks=blocks,
            pool_last=pool_last,
        )
    if name == "resnet12":
        return build_encoder(model_config, image_shape)
    if name == "mlp":
        hidden = tuple(_get(model_config, "hidden", "model"))
        if not hidden or any(not isinstance(h, int) or h < 1 for h in hidden):
            raise ValueError(f"model.hidden={hidden!r} must be positive integers")
        return _MLPBody(hidden, model_config.get("activation", "relu"))
    raise ValueError(f"model.name={name!r} is not one of: {FEWSHOT_MODELS}")


@dataclasses.dataclass(frozen=True)
class _Net:
    """Embedding + head on one params dict ``{"body", "head"}`` (head optional)."""

    body: nn.Module
    head: nn.Module | None

    def init(self, rng: jax.Array, x: jax.Array) -> Params:
        rng_body, rng_head = jax.random.split(rng)
        body = self.body.init(rng_body, x)["params"]
        params = {"body": body}
        if self.head is not None:
            features = self.body.apply({"params": body}, x)
            params["head"] = self.head.init(rng_head, features)["params"]
        return params

    def features(self, params: Params, x: jax.Array) -> jax.Array:
        return self.body.apply({"params": params["body"]}, x)

    def outputs(self, params: Params, x: jax.Array) -> jax.Array:
        return self.head.apply({"params": params["head"]}, self.features(params, x))


def _classification(logits: jax.Array, labels: jax.Array):
    loss = optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()
    accuracy = jnp.mean((jnp.argmax(logits, -1) == labels).astype(jnp.float32))
    return loss, accuracy


def _regression(pred: jax.Array, targets: jax.Array):
    mse = jnp.mean(jnp.square(pred - targets))
    return mse, mse


def _way(episode: Mapping[str, Any]) -> int:
    return episode["classes"].shape[-1]


# --------------------------------------------------------------------------
# Metric-based methods


def _metric_method(name: str, method_config, body: nn.Module) -> FewShotMethod:
    net = _Net(body, None)
    fce = None
    if name == "matching":
        temperature = _check_float(method_config, "temperature", "method")
        steps = (
            _check_int(method_config, "fce_steps", "method")
            if "fce_steps" in method_config
            else FullContextEmbedding.process_steps
        )
        if "fce" in method_config and _check_bool(method_config, "fce", "method"):
            fce = FullContextEmbedding(process_steps=steps)

        def episode_loss(embedded_support, sy, embedded_query, qy, way):
            return matching_loss(
                embedded_support, sy, embedded_query, qy, way, temperature=temperature
            )
    else:
        episode_loss = prototypical_loss

    def init(rng, x):
        params = net.init(rng, x)  # the embedding's draw does not depend on fce
        if fce is not None:
            features = net.features(params, x)
            rng_fce = jax.random.fold_in(rng, 1)
            params["fce"] = fce.init(rng_fce, features, features)["params"]
        return params

    def one_episode(params, episode):
        support, query = episode["support"], episode["query"]
        num_support = support["x"].shape[0]
        embedded = net.features(params, jnp.concatenate([support["x"], query["x"]]))
        embedded_support = embedded[:num_support]
        embedded_query = embedded[num_support:]
        if fce is not None:
            embedded_support, embedded_query = fce.apply(
                {"params": params["fce"]}, embedded_support, embedded_query
            )
        return episode_loss(
            embedded_support,
            support["y"],
            embedded_query,
            query["y"],
            _way(episode),
        )

    def loss(params, tasks, rng):
        del rng
        losses, accuracies = jax.vmap(lambda e: one_episode(params, e))(tasks)
        return losses.mean(), {"query_accuracy": accuracies.mean()}

    def score(params, episode):
        return one_episode(params, episode)[1]

    return FewShotMethod(name, init, loss, score, "episodes", "accuracy")


# --------------------------------------------------------------------------
# The MAML family


def _adapting_method(
    name: str, method_config, body: nn.Module, *, task: str, way: int
) -> FewShotMethod:
    where = "method"
    inner_steps = _check_int(method_config, "inner_steps", where, low=0)
    test_steps = _check_int(method_config, "test_inner_steps", where, low=0)
    first_order = _check_bool(method_config, "first_order", where)
    net = _Net(body, nn.Dense(way if task == "classification" else 1))
    evaluate = _classification if task == "classification" else _regression
    score_name = "accuracy" if task == "classification" else "mse"

    def model_loss(params, batch):
        return evaluate(net.outputs(params, batch["x"]), batch["y"])[0]

    if name == "meta_sgd":
        lr_init = _get(method_config, "inner_lr", where)
        bounds = tuple(lr_init) if isinstance(lr_init, tuple | list) else (lr_init,) * 2
        if len(bounds) != 2 or not all(
            isinstance(b, int | float) and b > 0 for b in bounds
        ):
            raise ValueError(
                f"method.inner_lr={lr_init!r} must be a positive number or a "
                "(low, high) range of initial per-parameter rates"
            )

        def init(rng, x):
            rng_net, rng_lr = jax.random.split(rng)
            params = net.init(rng_net, x)
            leaves, treedef = jax.tree.flatten(params)
            keys = jax.random.split(rng_lr, len(leaves))
            rates = [
                jax.random.uniform(k, leaf.shape, leaf.dtype, bounds[0], bounds[1])
                for k, leaf in zip(keys, leaves, strict=True)
            ]
            return {"params": params, "inner_lr": jax.tree.unflatten(treedef, rates)}

        def adapt(meta_params, support, steps):
            return meta_sgd_adapt(model_loss, meta_params, support, steps, first_order)

        def model_params(meta_params):
            return meta_params["params"]

    elif name == "meta_lstm":
        inner_lr = _check_float(method_config, "inner_lr", where)
        hidden_size = _check_int(method_config, "hidden_size", where)
        init_forget = _check_float(method_config, "init_forget", where)
        for field, value in (("inner_lr", inner_lr), ("init_forget", init_forget)):
            if not 0.0 < value < 1.0:
                raise ValueError(f"method.{field}={value} must be in (0, 1)")

        def init(rng, x):
            rng_net, rng_rule = jax.random.split(rng)
            rule = meta_lstm_init(
                rng_rule,
                hidden_size=hidden_size,
                init_lr=inner_lr,
                init_forget=init_forget,
            )
            return {"params": net.init(rng_net, x), "rule": rule}

        def adapt(meta_params, support, steps):
            return meta_lstm_adapt(
                model_loss,
                meta_params["rule"],
                meta_params["params"],
                support,
                steps,
                first_order,
            )

        def model_params(meta_params):
            return meta_params["params"]

    else:  # maml, anil
        inner_lr = _check_float(method_config, "inner_lr", where)
        # ANIL: only the head adapts; the body is the meta-learned feature.
        trainable = (lambda path: path[0] == "head") if name == "anil" else None
        init = net.init

        def adapt(params, support, steps):
            return maml_adapt(
                model_loss,
                params,
                support,
                inner_lr,
                steps,
                first_order,
                trainable=trainable,
            )

        def model_params(params):
            return params

    def one_task(meta_params, episode, steps):
        if steps:
            adapted = adapt(meta_params, episode["support"], steps)
        else:
            adapted = model_params(meta_params)
        query = episode["query"]
        return evaluate(net.outputs(adapted, query["x"]), query["y"])

    def loss(meta_params, tasks, rng):
        del rng
        losses, scores = jax.vmap(lambda e: one_task(meta_params, e, inner_steps))(
            tasks
        )
        return losses.mean(), {f"query_{score_name}": scores.mean()}

    def score(meta_params, episode):
        return one_task(meta_params, episode, test_steps)[1]

    return FewShotMethod(name, init, loss, score, "episodes", score_name)


# --------------------------------------------------------------------------
# Registry


def build_fewshot_method(
    config,
    *,
    image_shape: tuple[int, ...],
    task: str,
    way: int,
    num_base_classes: int = 0,
) -> FewShotMethod:
    """Build the method named by ``config.method.name``.

    Args:
      config: the run config (``method`` and ``model`` sections are read).
      image_shape: shape of one example (``(1,)`` for sinusoid inputs).
      task: ``"classification"`` or ``"regression"``.
      way: classes per episode (the adapting methods' head width).
      num_base_classes: classes of the baselines' pretraining head.

    Returns:
      The :class:`FewShotMethod`.

    Raises:
      ValueError: for an unknown method or model, a method that does not do
        ``task``, or a bad method field (the message names the field).
    """
    if task not in TASKS:
        raise ValueError(f"task={task!r} is not one of: {TASKS}")
    name = _get(config.method, "name", "method")
    if name == "fomaml":
        raise ValueError(
            "method.name='fomaml' is spelled method.name='maml' with "
            "method.first_order=True"
        )
    if name not in FEWSHOT_METHODS:
        raise ValueError(
            f"method.name={name!r} is not a few-shot method; allowed: "
            f"{', '.join(FEWSHOT_METHODS)}"
        )
    if task == "regression" and name not in REGRESSION_METHODS:
        raise ValueError(
            f"method.name={name!r} does not do regression (sinusoid tasks); "
            f"allowed: {', '.join(REGRESSION_METHODS)}"
        )
    body = build_body(config.model, image_shape)
    if name in METRIC_METHODS:
        return _metric_method(name, config.method, body)
    if name in ADAPTING_METHODS:
        return _adapting_method(name, config.method, body, task=task, way=way)
    return _baseline_method(name, config.method, body, num_base_classes)


def _baseline_method(
    name: str, method_config, body: nn.Module, num_base_classes: int
) -> FewShotMethod:
    where = "method"
    kind = "linear" if name == "finetune" else "cosine"
    _check_int(method_config, "batch_size", where)
    if num_base_classes < 2:
        raise ValueError(
            f"method.name={name!r} pretrains a classifier on the base classes; "
            f"it needs at least 2, got {num_base_classes} (episodes.num_base)"
        )
    if kind == "linear":
        head = nn.Dense(num_base_classes)
    else:
        head = CosineHead(
            num_base_classes, _check_float(method_config, "init_scale", where)
        )
    optimizer = _get(method_config, "head_optimizer", where)
    if optimizer not in HEAD_OPTIMIZERS:
        raise ValueError(
            f"method.head_optimizer={optimizer!r} is not one of: {HEAD_OPTIMIZERS}"
        )
    fit_kwargs = dict(
        num_steps=_check_int(method_config, "head_steps", where, low=0),
        optimizer=optimizer,
        lr=_check_float(method_config, "head_lr", where),
        weight_decay=_check_float(
            method_config, "head_weight_decay", where, positive=False
        ),
        scale=_check_float(method_config, "head_scale", where),
    )
    if fit_kwargs["weight_decay"] < 0:
        raise ValueError(
            f"method.head_weight_decay={fit_kwargs['weight_decay']} must be >= 0"
        )
    net = _Net(body, head)

    def loss(params, batch, rng):
        del rng
        loss, accuracy = _classification(net.outputs(params, batch["x"]), batch["y"])
        return loss, {"train_accuracy": accuracy}

    def score(params, episode):
        # Frozen embedding, then a new head fitted on the support set.
        support, query = episode["support"], episode["query"]
        num_support = support["x"].shape[0]
        features = net.features(params, jnp.concatenate([support["x"], query["x"]]))
        return baseline_accuracy(
            features[:num_support],
            support["y"],
            features[num_support:],
            query["y"],
            _way(episode),
            kind=kind,
            **fit_kwargs,
        )

    return FewShotMethod(name, net.init, loss, score, "batches", "accuracy")
