"""Tests for jaxssl.optim: each optimizer against its update rule in NumPy.

The references below are written from the published update rules, with every
piece of optimizer state (momentum buffers, accumulators, running averages,
bias corrections, trust ratios) kept explicitly, following Optax's documented
conventions (e.g. Adagrad's accumulator starts at 0.1, RMSprop's ``eps`` sits
inside the square root, Adam's outside, LARS and RMSprop apply momentum to the
learning-rate-scaled step).
"""

import math

import chex
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from jaxssl import optim

RTOL, ATOL = 1e-5, 1e-6

# f(w) = 0.5 * sum(A * w**2), so grad f(w) = A * w.
A = np.array([1.0, 0.5, 2.0, 0.1, 4.0], np.float32)
W0 = np.array([1.0, -2.0, 0.5, 3.0, -0.25], np.float32)


def _grad(w):
    return A * w


def _optax_updates(config, num_steps=2):
    """Run ``num_steps`` optimizer steps on the quadratic; return the updates."""
    tx = optim.make_optimizer(config)
    params = jnp.asarray(W0)
    state = tx.init(params)
    updates = []
    for _ in range(num_steps):
        grads = jnp.asarray(A) * params
        step, state = tx.update(grads, state, params)
        params = params + step
        updates.append(np.asarray(step))
    return updates


# ------------------------------------------------------- NumPy references


def _ref_sgd(cfg, num_steps=2):
    lr, wd = cfg["lr"], cfg.get("weight_decay", 0.0)
    w, updates = W0.astype(np.float64), []
    for _ in range(num_steps):
        g = _grad(w) + wd * w
        u = -lr * g
        updates.append(u)
        w = w + u
    return updates


def _ref_momentum(cfg, num_steps=2, nesterov=False):
    lr, wd = cfg["lr"], cfg.get("weight_decay", 0.0)
    mu = cfg.get("momentum", 0.9)
    w, buf, updates = W0.astype(np.float64), np.zeros(W0.shape), []
    for _ in range(num_steps):
        g = _grad(w) + wd * w
        buf = mu * buf + g
        direction = g + mu * buf if nesterov else buf
        u = -lr * direction
        updates.append(u)
        w = w + u
    return updates


def _ref_nesterov(cfg, num_steps=2):
    return _ref_momentum(cfg, num_steps, nesterov=True)


def _ref_adagrad(cfg, num_steps=2):
    lr, wd = cfg["lr"], cfg.get("weight_decay", 0.0)
    eps = cfg.get("eps", 1e-7)
    acc = np.full(W0.shape, cfg.get("initial_accumulator_value", 0.1))
    w, updates = W0.astype(np.float64), []
    for _ in range(num_steps):
        g = _grad(w) + wd * w
        acc = acc + g**2  # sum of squared gradients
        u = -lr * g / np.sqrt(acc + eps)
        updates.append(u)
        w = w + u
    return updates


def _ref_adadelta(cfg, num_steps=2):
    lr, wd = cfg["lr"], cfg.get("weight_decay", 0.0)
    rho, eps = cfg.get("rho", 0.9), cfg.get("eps", 1e-6)
    avg_sq_grad = np.zeros(W0.shape)  # E[g^2]
    avg_sq_delta = np.zeros(W0.shape)  # E[dx^2]
    w, updates = W0.astype(np.float64), []
    for _ in range(num_steps):
        g = _grad(w) + wd * w
        avg_sq_grad = rho * avg_sq_grad + (1 - rho) * g**2
        delta = np.sqrt(avg_sq_delta + eps) / np.sqrt(avg_sq_grad + eps) * g
        avg_sq_delta = rho * avg_sq_delta + (1 - rho) * delta**2
        u = -lr * delta
        updates.append(u)
        w = w + u
    return updates


def _ref_rmsprop(cfg, num_steps=2):
    lr, wd = cfg["lr"], cfg.get("weight_decay", 0.0)
    decay, eps = cfg.get("decay", 0.9), cfg.get("eps", 1e-8)
    mu = cfg.get("momentum", 0.0)
    mean_sq, buf = np.zeros(W0.shape), np.zeros(W0.shape)
    w, updates = W0.astype(np.float64), []
    for _ in range(num_steps):
        g = _grad(w) + wd * w
        mean_sq = decay * mean_sq + (1 - decay) * g**2
        step = -lr * g / np.sqrt(mean_sq + eps)
        buf = step + mu * buf
        u = buf
        updates.append(u)
        w = w + u
    return updates


def _ref_adam(cfg, num_steps=2, decoupled=False):
    lr, wd = cfg["lr"], cfg.get("weight_decay", 0.0)
    b1, b2 = cfg.get("b1", 0.9), cfg.get("b2", 0.999)
    eps = cfg.get("eps", 1e-8)
    m, v = np.zeros(W0.shape), np.zeros(W0.shape)
    w, updates = W0.astype(np.float64), []
    for t in range(1, num_steps + 1):
        g = _grad(w) + (0.0 if decoupled else wd * w)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)
        direction = m_hat / (np.sqrt(v_hat) + eps)
        if decoupled:
            direction = direction + wd * w
        u = -lr * direction
        updates.append(u)
        w = w + u
    return updates


def _ref_adamw(cfg, num_steps=2):
    return _ref_adam(cfg, num_steps, decoupled=True)


def _ref_lars(cfg, num_steps=2):
    lr, wd = cfg["lr"], cfg.get("weight_decay", 0.0)
    mu = cfg.get("momentum", 0.9)
    trust_coefficient = cfg.get("trust_coefficient", 0.001)
    w, buf, updates = W0.astype(np.float64), np.zeros(W0.shape), []
    for _ in range(num_steps):
        d = _grad(w) + wd * w
        w_norm, d_norm = np.linalg.norm(w), np.linalg.norm(d)
        trust = (
            1.0 if w_norm == 0 or d_norm == 0 else trust_coefficient * w_norm / d_norm
        )
        buf = -lr * trust * d + mu * buf
        u = buf
        updates.append(u)
        w = w + u
    return updates


_REFERENCES = {
    "sgd": _ref_sgd,
    "momentum": _ref_momentum,
    "nesterov": _ref_nesterov,
    "adagrad": _ref_adagrad,
    "adadelta": _ref_adadelta,
    "rmsprop": _ref_rmsprop,
    "adam": _ref_adam,
    "adamw": _ref_adamw,
    "lars": _ref_lars,
}

_CASES = {
    "sgd": dict(name="sgd", lr=0.1),
    "sgd_wd": dict(name="sgd", lr=0.1, weight_decay=0.05),
    "momentum": dict(name="momentum", lr=0.1),
    "momentum_wd": dict(name="momentum", lr=0.05, momentum=0.5, weight_decay=0.01),
    "nesterov": dict(name="nesterov", lr=0.1, momentum=0.8),
    "adagrad": dict(name="adagrad", lr=0.5),
    "adagrad_custom": dict(
        name="adagrad", lr=0.5, initial_accumulator_value=0.0, eps=1e-3
    ),
    "adadelta": dict(name="adadelta", lr=1.0),
    "adadelta_custom": dict(
        name="adadelta", lr=2.0, rho=0.95, eps=1e-2, weight_decay=0.1
    ),
    "rmsprop": dict(name="rmsprop", lr=0.01),
    "rmsprop_momentum": dict(
        name="rmsprop", lr=0.01, decay=0.95, eps=1e-6, momentum=0.9
    ),
    "adam": dict(name="adam", lr=0.1),
    "adam_l2": dict(name="adam", lr=0.1, b1=0.8, b2=0.99, eps=1e-6, weight_decay=0.1),
    "adamw": dict(name="adamw", lr=0.1, weight_decay=0.1),
    "lars": dict(name="lars", lr=1.0),
    "lars_custom": dict(
        name="lars", lr=0.5, momentum=0.8, trust_coefficient=0.02, weight_decay=0.01
    ),
}


@pytest.mark.parametrize("case", sorted(_CASES))
def test_first_two_updates_match_reference(case):
    cfg = _CASES[case]
    got = _optax_updates(cfg)
    want = _REFERENCES[cfg["name"]](cfg)
    for step, (g, w) in enumerate(zip(got, want, strict=True)):
        np.testing.assert_allclose(
            g, w, rtol=RTOL, atol=ATOL, err_msg=f"{case}, update {step}"
        )
        assert np.any(np.abs(w) > 100 * ATOL), "update too small to test"


def test_every_optimizer_has_a_case():
    assert {cfg["name"] for cfg in _CASES.values()} == set(optim.OPTIMIZERS)
    assert set(_REFERENCES) == set(optim.OPTIMIZERS)


def test_configdict_and_dict_agree():
    cfg = dict(name="adamw", lr=0.1, weight_decay=0.1, schedule=dict(name="constant"))
    from_dict = _optax_updates(cfg)
    from_configdict = _optax_updates(ml_collections.ConfigDict(cfg))
    frozen = _optax_updates(ml_collections.FrozenConfigDict(cfg))
    chex.assert_trees_all_close(from_dict, from_configdict, frozen)


def test_none_means_default():
    cfg = ml_collections.ConfigDict(
        dict(name="adam", lr=0.1, momentum=None, b1=None, schedule=None)
    )
    chex.assert_trees_all_close(
        _optax_updates(cfg), _optax_updates(dict(name="adam", lr=0.1))
    )


# ----------------------------------------------- weight decay mask, clipping


def _tree_params():
    rng_kernel, rng_bias, rng_scale = jax.random.split(jax.random.key(0), 3)
    return {
        "dense": {
            "kernel": jax.random.normal(rng_kernel, (3, 4)),
            "bias": jax.random.normal(rng_bias, (4,)),
        },
        "norm": {"scale": 1.0 + jax.random.uniform(rng_scale, (4,))},
    }


@pytest.mark.parametrize("name", optim.OPTIMIZERS)
def test_no_bias_norm_mask_leaves_1d_leaves_undecayed(name):
    params = _tree_params()
    zero_grads = jax.tree.map(jnp.zeros_like, params)
    for mask in ("no_bias_norm", "all"):
        tx = optim.make_optimizer(
            dict(name=name, lr=0.1, weight_decay=0.1, weight_decay_mask=mask)
        )
        # Zero gradients: any non-zero update comes from weight decay alone.
        updates, _ = jax.jit(tx.update)(zero_grads, tx.init(params), params)
        chex.assert_tree_all_finite(updates)
        assert np.all(np.abs(updates["dense"]["kernel"]) > 0), (name, mask)
        for leaf in (updates["dense"]["bias"], updates["norm"]["scale"]):
            if mask == "no_bias_norm":
                np.testing.assert_array_equal(leaf, 0.0)
            else:
                assert np.all(np.abs(leaf) > 0), (name, mask)


def test_weight_decay_value_sgd():
    params = _tree_params()
    zero_grads = jax.tree.map(jnp.zeros_like, params)
    tx = optim.make_optimizer(
        dict(name="sgd", lr=0.5, weight_decay=0.1, weight_decay_mask="no_bias_norm")
    )
    updates, _ = tx.update(zero_grads, tx.init(params), params)
    np.testing.assert_allclose(
        updates["dense"]["kernel"],
        -0.5 * 0.1 * params["dense"]["kernel"],
        rtol=RTOL,
        atol=ATOL,
    )


def test_clip_by_global_norm():
    params = {"a": jnp.zeros((3,)), "b": jnp.zeros((2, 2))}
    big = {"a": jnp.array([3.0, 0.0, 0.0]), "b": jnp.array([[0.0, 4.0], [0.0, 0.0]])}
    small = jax.tree.map(lambda g: g / 10.0, big)  # global norm 0.5
    tx = optim.make_optimizer(dict(name="sgd", lr=1.0, clip_norm=1.0))
    state = tx.init(params)
    clipped, state = tx.update(big, state, params)
    chex.assert_trees_all_close(
        clipped, jax.tree.map(lambda g: -g / 5.0, big), rtol=RTOL, atol=ATOL
    )
    unclipped, _ = tx.update(small, state, params)
    chex.assert_trees_all_close(
        unclipped, jax.tree.map(jnp.negative, small), rtol=RTOL, atol=ATOL
    )


def test_clip_before_coupled_weight_decay():
    params = {"w": jnp.array([[1.0, 2.0], [-1.0, 0.5]])}
    grads = {"w": jnp.array([[30.0, 0.0], [0.0, 40.0]])}  # global norm 50
    tx = optim.make_optimizer(
        dict(name="sgd", lr=0.1, clip_norm=2.0, weight_decay=0.01)
    )
    updates, _ = tx.update(grads, tx.init(params), params)
    want = -0.1 * (grads["w"] * (2.0 / 50.0) + 0.01 * params["w"])
    np.testing.assert_allclose(updates["w"], want, rtol=RTOL, atol=ATOL)


def test_jitted_pytree_update_with_everything():
    params = _tree_params()
    grads = jax.tree.map(lambda p: 0.3 * p + 0.1, params)
    tx = optim.make_optimizer(
        dict(
            name="adamw",
            lr=0.1,
            weight_decay=1e-3,
            weight_decay_mask="no_bias_norm",
            clip_norm=1.0,
            schedule=dict(name="warmup_cosine", warmup_steps=2),
        ),
        total_steps=10,
    )
    state = tx.init(params)
    state = tx.update(grads, state, params)[1]  # step 1: lr > 0 after warmup
    eager, _ = tx.update(grads, state, params)
    jitted, _ = jax.jit(tx.update)(grads, state, params)
    chex.assert_trees_all_close(eager, jitted, rtol=RTOL, atol=ATOL)
    assert np.all(np.abs(jitted["dense"]["kernel"]) > 0)


# ---------------------------------------------------------------- schedules

_STEPS = (0, 1, 3, 5, 10, 37, 99, 100, 150)


def _schedule_values(schedule, lr=0.4, total_steps=None):
    fn = optim.make_schedule(dict(name="sgd", lr=lr, schedule=schedule), total_steps)
    return np.array([float(fn(step)) for step in _STEPS])


def test_constant_schedule():
    np.testing.assert_allclose(
        _schedule_values(dict(name="constant")), 0.4, rtol=RTOL, atol=ATOL
    )
    np.testing.assert_allclose(_schedule_values(None), 0.4, rtol=RTOL, atol=ATOL)


def _cosine(step, lr, end, steps):
    step = min(step, steps)
    return end + (lr - end) * 0.5 * (1 + math.cos(math.pi * step / steps))


@pytest.mark.parametrize(
    "schedule, end",
    [
        (dict(name="cosine"), 0.0),
        (dict(name="cosine", alpha=0.1), 0.04),
        (dict(name="cosine", end_value=0.01), 0.01),
    ],
)
def test_cosine_schedule(schedule, end):
    got = _schedule_values(schedule, total_steps=100)
    want = [_cosine(s, 0.4, end, 100) for s in _STEPS]
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL)


def test_cosine_decay_steps_overrides_total_steps():
    got = _schedule_values(dict(name="cosine", decay_steps=50), total_steps=100)
    want = [_cosine(s, 0.4, 0.0, 50) for s in _STEPS]
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("warmup, end", [(10, 0.0), (5, 0.02), (0, 0.0)])
def test_warmup_cosine_schedule(warmup, end):
    schedule = dict(name="warmup_cosine", warmup_steps=warmup, end_value=end)
    got = _schedule_values(schedule, total_steps=100)
    want = [
        0.4 * s / warmup if s < warmup else _cosine(s - warmup, 0.4, end, 100 - warmup)
        for s in _STEPS
    ]
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL)


def test_step_schedule():
    schedule = dict(name="step", boundaries=[5, 37, 100], decay_factor=0.5)
    got = _schedule_values(schedule)  # needs no total_steps
    want = [0.4 * 0.5 ** sum(s >= b for b in (5, 37, 100)) for s in _STEPS]
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL)
    default_factor = _schedule_values(dict(name="step", boundaries=[3]))
    want = [0.4 * (0.1 if s >= 3 else 1.0) for s in _STEPS]
    np.testing.assert_allclose(default_factor, want, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("name", ["sgd", "momentum"])
def test_optimizer_follows_schedule(name):
    # Warmup over 4 steps: lr 0, 0.25, 0.5 ... so update 0 is exactly zero.
    cfg = dict(name=name, lr=1.0, schedule=dict(name="warmup_cosine", warmup_steps=4))
    tx = optim.make_optimizer(cfg, total_steps=20)
    params = jnp.asarray(W0)
    state = tx.init(params)
    grads = jnp.asarray(A) * params
    first, state = tx.update(grads, state, params)
    second, _ = tx.update(grads, state, params)
    np.testing.assert_array_equal(first, 0.0)
    # The momentum buffer holds gradients (lr applies after it): g + 0.9 * g.
    buffer = 1.9 * grads if name == "momentum" else grads
    np.testing.assert_allclose(second, -0.25 * buffer, rtol=RTOL, atol=ATOL)


# ------------------------------------------------------------------- errors

_BAD = [
    (dict(name="adamz", lr=0.1), None, "optim.name='adamz' is not one of: sgd, "),
    (dict(lr=0.1), None, "optim.name=None is not one of: sgd, momentum"),
    (dict(name="sgd", lr=-0.1), None, r"optim.lr=-0.1 must be > 0"),
    (dict(name="sgd", lr=0.0), None, r"optim.lr=0.0 must be > 0"),
    (dict(name="sgd", lr="0.1"), None, r"optim.lr='0.1' must be a number > 0"),
    (dict(name="sgd"), None, r"optim.lr is required"),
    (
        dict(name="sgd", lr=0.1, lrr=0.1),
        None,
        r"optim has unknown key 'lrr'; allowed keys: clip_norm, lr, name, schedule, "
        r"weight_decay, weight_decay_mask",
    ),
    (
        dict(name="sgd", lr=0.1, b1=0.9),
        None,
        r"optim.b1 does not apply to optim.name='sgd'; allowed keys: ",
    ),
    (
        dict(name="momentum", lr=0.1, momentum=1.0),
        None,
        r"optim.momentum=1.0 must be in \[0, 1\)",
    ),
    (dict(name="adam", lr=0.1, b2=1.5), None, r"optim.b2=1.5 must be in \[0, 1\)"),
    (dict(name="adam", lr=0.1, eps=0.0), None, r"optim.eps=0.0 must be > 0"),
    (
        dict(name="adamw", lr=0.1, weight_decay=-1e-4),
        None,
        r"optim.weight_decay=-0.0001 must be >= 0",
    ),
    (
        dict(name="sgd", lr=0.1, weight_decay_mask="bias"),
        None,
        r"optim.weight_decay_mask='bias' is not one of: all, no_bias_norm",
    ),
    (dict(name="sgd", lr=0.1, clip_norm=-1), None, r"optim.clip_norm=-1 must be >= 0"),
    (
        dict(name="sgd", lr=0.1, schedule=dict(name="linear")),
        None,
        r"optim.schedule.name='linear' is not one of: constant, cosine, "
        r"warmup_cosine, step",
    ),
    (
        dict(name="sgd", lr=0.1, schedule=dict(name="cosine")),
        None,
        r"optim.schedule.decay_steps is required for optim.schedule.name='cosine' "
        r"when total_steps is not given",
    ),
    (
        dict(name="sgd", lr=0.1, schedule=dict(name="warmup_cosine", warmup_steps=5)),
        None,
        r"optim.schedule.decay_steps is required",
    ),
    (
        dict(name="sgd", lr=0.1, schedule=dict(name="cosine", warmup=3)),
        100,
        r"optim.schedule has unknown key 'warmup'; allowed keys: alpha, "
        r"decay_steps, end_value, name",
    ),
    (
        dict(name="sgd", lr=0.1, schedule=dict(name="cosine", warmup_steps=3)),
        100,
        r"optim.schedule.warmup_steps does not apply to "
        r"optim.schedule.name='cosine'",
    ),
    (
        dict(name="sgd", lr=0.1, schedule=dict(name="cosine", decay_steps=0)),
        100,
        r"optim.schedule.decay_steps=0 must be an int > 0",
    ),
    (
        dict(name="sgd", lr=0.1, schedule=dict(name="cosine", alpha=1.5)),
        100,
        r"optim.schedule.alpha=1.5 must be in \[0, 1\]",
    ),
    (
        dict(name="sgd", lr=0.1, schedule=dict(name="cosine", alpha=0.1, end_value=0)),
        100,
        r"optim.schedule.alpha and optim.schedule.end_value are exclusive",
    ),
    (
        dict(name="sgd", lr=0.1, schedule=dict(name="warmup_cosine", warmup_steps=9)),
        9,
        r"optim.schedule.warmup_steps=9 must be an int in \[0, decay_steps=9\)",
    ),
    (
        dict(name="sgd", lr=0.1, schedule=dict(name="step", boundaries=[10, 5])),
        None,
        r"optim.schedule.boundaries=\[10, 5\] must be a non-empty list of strictly "
        r"increasing positive ints",
    ),
    (
        dict(name="sgd", lr=0.1, schedule=dict(name="step")),
        None,
        r"optim.schedule.boundaries=None must be",
    ),
    (
        dict(
            name="sgd",
            lr=0.1,
            schedule=dict(name="step", boundaries=[5], decay_factor=0),
        ),
        None,
        r"optim.schedule.decay_factor=0 must be > 0",
    ),
    (dict(name="sgd", lr=0.1), 0, r"total_steps=0 must be a positive int"),
    (dict(name="sgd", lr=0.1, schedule="cosine"), 10, r"optim.schedule must be a "),
]


@pytest.mark.parametrize("config, total_steps, message", _BAD)
def test_bad_config_raises_one_line_value_error(config, total_steps, message):
    for build in (optim.make_optimizer, optim.make_schedule):
        with pytest.raises(ValueError, match=message) as error:
            build(ml_collections.ConfigDict(config), total_steps)
        assert "\n" not in str(error.value)
        with pytest.raises(ValueError, match=message):
            build(config, total_steps)


def test_names_exported():
    assert optim.OPTIMIZERS == (
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
    assert optim.SCHEDULES == ("constant", "cosine", "warmup_cosine", "step")
