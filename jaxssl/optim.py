"""Optimizer and learning-rate schedule factory (Optax) from an ``optim`` config.

The ``optim`` section of an experiment config names an optimizer, its peak
learning rate, a schedule, weight decay and gradient clipping. Everything is
built from Optax's own transforms and composed with ``optax.chain`` in this
order: global-norm clipping, then (for the L2-coupled optimizers) weight decay,
then the optimizer itself::

    optim = dict(
        name="adamw",
        lr=1e-3,
        weight_decay=0.05,
        weight_decay_mask="no_bias_norm",
        clip_norm=1.0,
        schedule=dict(name="warmup_cosine", warmup_steps=500),
    )
    tx = make_optimizer(config.optim, total_steps=config.train.total_steps)

Weight decay is decoupled for ``adamw`` and ``lars`` (their Optax
implementations add ``weight_decay * params`` after the adaptive scaling) and
textbook L2-coupled for every other optimizer (``weight_decay * params`` is
added to the gradient before the optimizer sees it). Both need ``params`` in
``tx.update(grads, opt_state, params)``.

Unknown keys, keys that do not apply to the chosen optimizer or schedule, and
out-of-range values raise a one-line ``ValueError`` naming the field.
"""

from __future__ import annotations

import itertools
import numbers
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import optax

OPTIMIZERS = (
    "sgd",
    "momentum",
    "nesterov",
    "adagrad",
    "adadelta",
    "rmsprop",
    "adam",
    "adamw",
    "lars",
)
SCHEDULES = ("constant", "cosine", "warmup_cosine", "step")
WEIGHT_DECAY_MASKS = ("all", "no_bias_norm")

_COMMON_KEYS = (
    "name",
    "lr",
    "weight_decay",
    "weight_decay_mask",
    "clip_norm",
    "schedule",
)
_OPTIMIZER_KEYS = {
    "sgd": (),
    "momentum": ("momentum",),
    "nesterov": ("momentum",),
    "adagrad": ("eps", "initial_accumulator_value"),
    "adadelta": ("rho", "eps"),
    "rmsprop": ("decay", "eps", "momentum"),
    "adam": ("b1", "b2", "eps", "eps_root"),
    "adamw": ("b1", "b2", "eps", "eps_root"),
    "lars": ("momentum", "trust_coefficient"),
}
_SCHEDULE_KEYS = {
    "constant": ("name",),
    "cosine": ("name", "decay_steps", "alpha", "end_value"),
    "warmup_cosine": ("name", "warmup_steps", "decay_steps", "alpha", "end_value"),
    "step": ("name", "boundaries", "decay_factor"),
}
_EVERY_OPTIM_KEY = set(_COMMON_KEYS).union(*_OPTIMIZER_KEYS.values())
_EVERY_SCHEDULE_KEY = set().union(*_SCHEDULE_KEYS.values())


def make_schedule(config: Any, total_steps: int | None = None) -> optax.Schedule:
    """Build the learning-rate schedule of an ``optim`` config.

    Args:
      config: the ``optim`` section (``ml_collections.ConfigDict`` or a mapping);
        its ``lr`` is the peak learning rate and its optional ``schedule``
        sub-config picks the shape (``constant`` when absent):

        * ``constant``: ``lr`` at every step.
        * ``cosine``: ``lr`` decayed along a half cosine over ``decay_steps``
          to ``end_value`` (or ``alpha * lr``), then held there.
        * ``warmup_cosine``: linear warmup from 0 to ``lr`` over
          ``warmup_steps``, then cosine decay to ``end_value`` (or
          ``alpha * lr``) at step ``decay_steps`` (which includes the warmup).
        * ``step``: ``lr`` times ``decay_factor ** k`` where ``k`` counts the
          ``boundaries`` at or below the step (``decay_factor`` default 0.1).

        ``decay_steps`` defaults to ``total_steps``.
      total_steps: length of the run, the default for ``decay_steps``.

    Returns:
      An Optax schedule: step count -> learning rate.

    Raises:
      ValueError: on a bad or missing field, or when the schedule needs
        ``decay_steps`` and neither it nor ``total_steps`` is given.
    """
    cfg = _validated(config, total_steps)
    return _build_schedule(cfg)


def make_optimizer(
    config: Any, total_steps: int | None = None
) -> optax.GradientTransformation:
    """Build the Optax optimizer described by an ``optim`` config.

    Args:
      config: the ``optim`` section (``ml_collections.ConfigDict`` or a mapping)
        with fields

        * ``name``: one of :data:`OPTIMIZERS`.
        * ``lr``: peak learning rate, > 0.
        * ``schedule``: learning-rate schedule, see :func:`make_schedule`.
        * ``weight_decay`` (>= 0, default 0) and ``weight_decay_mask``
          (``"all"``, the default, or ``"no_bias_norm"``, which leaves leaves
          with ``ndim <= 1``, i.e. biases and norm scales, undecayed).
        * ``clip_norm``: clip gradients to this global norm when > 0 (default 0,
          off).
        * per optimizer (Optax defaults unless noted): ``momentum`` for
          ``momentum``, ``nesterov``, ``lars`` (default 0.9) and ``rmsprop``
          (default 0); ``eps`` and ``initial_accumulator_value`` for
          ``adagrad``; ``rho`` and ``eps`` for ``adadelta``; ``decay`` and
          ``eps`` for ``rmsprop``; ``b1``, ``b2``, ``eps``, ``eps_root`` for
          ``adam``/``adamw``; ``trust_coefficient`` for ``lars``.

      total_steps: length of the run, the default ``decay_steps`` of decaying
        schedules.

    Returns:
      The optimizer; its ``update`` needs ``params`` (weight decay, LARS).

    Raises:
      ValueError: on an unknown key, a key that does not apply to the chosen
        optimizer or schedule, or a value out of range.
    """
    cfg = _validated(config, total_steps)
    schedule = cfg["schedule"]
    if schedule["name"] == "constant":
        lr = cfg["lr"]  # A float keeps the optimizer state free of a step count.
    else:
        lr = _build_schedule(cfg)
    name = cfg["name"]
    weight_decay = cfg["weight_decay"]
    mask = cfg["weight_decay_mask"] == "no_bias_norm"

    transforms = []
    if cfg["clip_norm"] > 0:
        transforms.append(optax.clip_by_global_norm(cfg["clip_norm"]))
    if weight_decay > 0 and name not in ("adamw", "lars"):
        # L2-coupled: the decay term goes through the optimizer's scaling.
        transforms.append(
            optax.add_decayed_weights(weight_decay, _no_bias_norm if mask else None)
        )

    if name == "sgd":
        opt = optax.sgd(lr)
    elif name in ("momentum", "nesterov"):
        opt = optax.sgd(lr, momentum=cfg["momentum"], nesterov=name == "nesterov")
    elif name == "adagrad":
        opt = optax.adagrad(
            lr,
            initial_accumulator_value=cfg["initial_accumulator_value"],
            eps=cfg["eps"],
        )
    elif name == "adadelta":
        opt = optax.adadelta(lr, rho=cfg["rho"], eps=cfg["eps"])
    elif name == "rmsprop":
        opt = optax.rmsprop(
            lr,
            decay=cfg["decay"],
            eps=cfg["eps"],
            momentum=cfg["momentum"] or None,
        )
    elif name in ("adam", "adamw"):
        adam_kwargs = {key: cfg[key] for key in ("b1", "b2", "eps", "eps_root")}
        if name == "adam":
            opt = optax.adam(lr, **adam_kwargs)
        else:
            opt = optax.adamw(
                lr,
                weight_decay=weight_decay,
                mask=_no_bias_norm if mask else None,
                **adam_kwargs,
            )
    else:  # lars
        opt = optax.lars(
            lr,
            weight_decay=weight_decay,
            weight_decay_mask=_no_bias_norm if mask else True,
            trust_coefficient=cfg["trust_coefficient"],
            momentum=cfg["momentum"],
        )
    transforms.append(opt)
    return optax.chain(*transforms) if len(transforms) > 1 else opt


def _no_bias_norm(params: Any) -> Any:
    """Mask that decays only leaves with ndim > 1 (not biases or norm scales)."""
    return jax.tree.map(lambda p: jnp.ndim(p) > 1, params)


# ---------------------------------------------------------------- schedules


def _build_schedule(cfg: dict[str, Any]) -> optax.Schedule:
    lr = cfg["lr"]
    schedule = cfg["schedule"]
    name = schedule["name"]
    if name == "constant":
        return optax.constant_schedule(lr)
    if name == "step":
        factor = schedule["decay_factor"]
        return optax.piecewise_constant_schedule(
            lr, {boundary: factor for boundary in schedule["boundaries"]}
        )
    end_value = schedule["end_value"]
    if name == "cosine":
        return optax.cosine_decay_schedule(
            lr, decay_steps=schedule["decay_steps"], alpha=end_value / lr
        )
    return optax.warmup_cosine_decay_schedule(
        init_value=0.0,
        peak_value=lr,
        warmup_steps=schedule["warmup_steps"],
        decay_steps=schedule["decay_steps"],
        end_value=end_value,
    )


# --------------------------------------------------------------- validation


def _validated(config: Any, total_steps: int | None) -> dict[str, Any]:
    """Check an ``optim`` config and return it as a dict with defaults filled."""
    cfg = _as_dict(config, "optim")
    if total_steps is not None and (not _is_int(total_steps) or int(total_steps) <= 0):
        raise ValueError(f"total_steps={total_steps!r} must be a positive int")

    name = cfg.get("name")
    if name not in OPTIMIZERS:
        raise ValueError(f"optim.name={name!r} is not one of: {', '.join(OPTIMIZERS)}")
    allowed = _COMMON_KEYS + _OPTIMIZER_KEYS[name]
    _check_keys(cfg, allowed, _EVERY_OPTIM_KEY, "optim", f"optim.name={name!r}")

    out: dict[str, Any] = {"name": name}
    if cfg.get("lr") is None:
        raise ValueError("optim.lr is required (a float > 0)")
    out["lr"] = _real(cfg, "lr", None, "optim", lambda v: v > 0, "> 0")
    out["weight_decay"] = _real(
        cfg, "weight_decay", 0.0, "optim", lambda v: v >= 0, ">= 0"
    )
    mask = cfg.get("weight_decay_mask")
    mask = "all" if mask is None else mask
    if mask not in WEIGHT_DECAY_MASKS:
        raise ValueError(
            f"optim.weight_decay_mask={mask!r} is not one of: "
            f"{', '.join(WEIGHT_DECAY_MASKS)}"
        )
    out["weight_decay_mask"] = mask
    out["clip_norm"] = _real(cfg, "clip_norm", 0.0, "optim", lambda v: v >= 0, ">= 0")

    unit = (lambda v: 0 <= v < 1, "in [0, 1)")
    positive = (lambda v: v > 0, "> 0")
    non_negative = (lambda v: v >= 0, ">= 0")
    momentum_default = 0.0 if name == "rmsprop" else 0.9
    eps_default = {"adagrad": 1e-7, "adadelta": 1e-6}.get(name, 1e-8)
    specs = {
        "momentum": (momentum_default, *unit),
        "eps": (eps_default, *positive),
        "initial_accumulator_value": (0.1, *non_negative),
        "rho": (0.9, *unit),
        "decay": (0.9, *unit),
        "b1": (0.9, *unit),
        "b2": (0.999, *unit),
        "eps_root": (0.0, *non_negative),
        "trust_coefficient": (0.001, *positive),
    }
    for key in _OPTIMIZER_KEYS[name]:
        default, check, requirement = specs[key]
        out[key] = _real(cfg, key, default, "optim", check, requirement)

    out["schedule"] = _validated_schedule(cfg.get("schedule"), out["lr"], total_steps)
    return out


def _validated_schedule(
    config: Any, lr: float, total_steps: int | None
) -> dict[str, Any]:
    prefix = "optim.schedule"
    cfg = {} if config is None else _as_dict(config, prefix)
    name = cfg.get("name")
    name = "constant" if name is None else name
    if name not in SCHEDULES:
        raise ValueError(
            f"{prefix}.name={name!r} is not one of: {', '.join(SCHEDULES)}"
        )
    _check_keys(
        cfg,
        _SCHEDULE_KEYS[name],
        _EVERY_SCHEDULE_KEY,
        prefix,
        f"{prefix}.name={name!r}",
    )
    out: dict[str, Any] = {"name": name}

    if name == "step":
        boundaries = cfg.get("boundaries")
        if (
            not isinstance(boundaries, Sequence)
            or isinstance(boundaries, str)
            or not boundaries
            or not all(_is_int(b) and b > 0 for b in boundaries)
            or any(b >= c for b, c in itertools.pairwise(boundaries))
        ):
            raise ValueError(
                f"{prefix}.boundaries={boundaries!r} must be a non-empty list of "
                "strictly increasing positive ints"
            )
        out["boundaries"] = [int(b) for b in boundaries]
        out["decay_factor"] = _real(
            cfg, "decay_factor", 0.1, prefix, lambda v: v > 0, "> 0"
        )
        return out
    if name == "constant":
        return out

    decay_steps = cfg.get("decay_steps")
    if decay_steps is None:
        if total_steps is None:
            raise ValueError(
                f"{prefix}.decay_steps is required for {prefix}.name={name!r} "
                "when total_steps is not given"
            )
        decay_steps = int(total_steps)
    elif not _is_int(decay_steps) or decay_steps <= 0:
        raise ValueError(f"{prefix}.decay_steps={decay_steps!r} must be an int > 0")
    out["decay_steps"] = int(decay_steps)

    if cfg.get("alpha") is not None and cfg.get("end_value") is not None:
        raise ValueError(
            f"{prefix}.alpha and {prefix}.end_value are exclusive; set one "
            "(end_value = alpha * lr)"
        )
    if cfg.get("alpha") is not None:
        alpha = _real(cfg, "alpha", 0.0, prefix, lambda v: 0 <= v <= 1, "in [0, 1]")
        out["end_value"] = alpha * lr
    else:
        out["end_value"] = _real(
            cfg, "end_value", 0.0, prefix, lambda v: v >= 0, ">= 0"
        )

    if name == "warmup_cosine":
        warmup_steps = cfg.get("warmup_steps")
        warmup_steps = 0 if warmup_steps is None else warmup_steps
        if not _is_int(warmup_steps) or not 0 <= warmup_steps < out["decay_steps"]:
            raise ValueError(
                f"{prefix}.warmup_steps={warmup_steps!r} must be an int in "
                f"[0, decay_steps={out['decay_steps']})"
            )
        out["warmup_steps"] = int(warmup_steps)
    return out


def _as_dict(config: Any, prefix: str) -> dict[str, Any]:
    if hasattr(config, "to_dict"):  # ml_collections.ConfigDict / FrozenConfigDict
        return dict(config.to_dict())
    if isinstance(config, Mapping):
        return dict(config)
    raise ValueError(
        f"{prefix} must be a ConfigDict or a mapping, got {type(config).__name__}"
    )


def _check_keys(
    cfg: Mapping[str, Any],
    allowed: Sequence[str],
    every_key: set[str],
    prefix: str,
    owner: str,
) -> None:
    """Reject keys that no variant knows, or that this variant does not use."""
    for key, value in cfg.items():
        if key in allowed:
            continue
        keys = ", ".join(sorted(allowed))
        if key not in every_key:
            raise ValueError(f"{prefix} has unknown key {key!r}; allowed keys: {keys}")
        if value is not None:  # A None placeholder means "not set".
            raise ValueError(
                f"{prefix}.{key} does not apply to {owner}; allowed keys: {keys} "
                f"(unset it with --config.{prefix}.{key}=None)"
            )


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _real(
    cfg: Mapping[str, Any],
    key: str,
    default: float | None,
    prefix: str,
    check: Callable[[float], bool],
    requirement: str,
) -> float:
    value = cfg.get(key)
    if value is None:
        return default
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise ValueError(f"{prefix}.{key}={value!r} must be a number {requirement}")
    if not check(value):
        raise ValueError(f"{prefix}.{key}={value!r} must be {requirement}")
    return float(value)
