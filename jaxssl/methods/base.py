"""The method interface the generic trainer calls, and the method registry.

A method is a small immutable object built from the config. Its functions are
pure; everything that changes during training lives in ``params`` (trained) or
``extra`` (not differentiated: EMA targets, queues, batch statistics), both
passed in and returned.

Adding a method is one new file that calls ``register`` plus one config; the
trainer does not change.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

import jax

Params = Any
Extra = Any
Batch = Mapping[str, jax.Array]
Aux = dict[str, Any]
Objective = Callable[[Params, Batch, jax.Array], tuple[jax.Array, Aux]]


class Method(Protocol):
    """What the trainer needs from a method.

    ``make_objective(extra)`` returns ``objective(params, batch, rng) -> (loss,
    aux)`` where ``loss`` is a float32 scalar and ``aux`` holds ``"metrics"``
    (scalars) and optionally ``"extra"`` (the new non-differentiated state,
    e.g. updated batch statistics). ``post_update`` runs after the optimizer
    update (EMA targets); ``encode`` gives the frozen features that linear
    probes and kNN evaluate; ``eval_metrics`` gives deterministic test-set
    metrics; ``visualize`` writes method-specific pictures; ``final_metrics``
    computes expensive end-of-run metrics on the uint8 test images.
    ``MethodBase`` provides defaults for ``post_update``, ``visualize`` and
    ``final_metrics``.
    """

    name: str

    def init(self, rng: jax.Array, sample_batch: Batch) -> tuple[Params, Extra]: ...

    def make_objective(self, extra: Extra) -> Objective: ...

    def post_update(self, params: Params, extra: Extra, step: jax.Array) -> Extra: ...

    def encode(self, params: Params, extra: Extra, images: jax.Array) -> jax.Array: ...

    def eval_metrics(
        self, params: Params, extra: Extra, batch: Batch
    ) -> dict[str, jax.Array]: ...

    def visualize(
        self, params: Params, extra: Extra, images: jax.Array, workdir: str
    ) -> list[str]: ...

    def final_metrics(
        self, params: Params, extra: Extra, test_images: Any, rng: jax.Array
    ) -> dict[str, float]: ...


class MethodBase:
    """Defaults for the optional parts of ``Method``; methods may subclass it."""

    def post_update(self, params: Params, extra: Extra, step: jax.Array) -> Extra:
        del params, step
        return extra

    def visualize(
        self, params: Params, extra: Extra, images: jax.Array, workdir: str
    ) -> list[str]:
        del params, extra, images, workdir
        return []

    def final_metrics(
        self, params: Params, extra: Extra, test_images: Any, rng: jax.Array
    ) -> dict[str, float]:
        """Expensive end-of-training metrics (e.g. an IWAE bound); none by default."""
        del params, extra, test_images, rng
        return {}


# name -> factory(config, dataset_info) -> Method
_REGISTRY: dict[str, Callable[..., Method]] = {}


def register(name: str) -> Callable[[Callable[..., Method]], Callable[..., Method]]:
    """Register a method factory under ``name`` (used as ``config.method.name``)."""

    def wrap(factory: Callable[..., Method]) -> Callable[..., Method]:
        if name in _REGISTRY:
            raise ValueError(f"method {name!r} is registered twice")
        _REGISTRY[name] = factory
        return factory

    return wrap


def method_names() -> tuple[str, ...]:
    return tuple(sorted(_REGISTRY))


def build_method(config, image_shape: tuple[int, ...], num_classes: int) -> Method:
    """Build the method named by ``config.method.name``.

    Args:
      config: the whole experiment config (methods read ``method`` and ``model``).
      image_shape: (H, W, C) of the dataset.
      num_classes: number of label classes (for heads and evaluation).

    Raises:
      ValueError: unknown method name (the message lists the registered ones).
    """
    name = config.method.name
    if name not in _REGISTRY:
        raise ValueError(
            f"method.name={name!r} is not one of: {', '.join(method_names())}"
        )
    return _REGISTRY[name](config, tuple(image_shape), num_classes)
