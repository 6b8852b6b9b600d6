"""SimCLR and BYOL: objectives, global batch on 8 devices, EMA target, config errors."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxssl import losses, train
from jaxssl.methods import build_method
from jaxssl.methods.byol import ema_update
from tests.helpers import load_config

# Small shapes: digits (8x8x1), a tiny MLP encoder, global batch 32, and views
# from ops that compile fast (the configs' resized crops run in test_configs).
_BATCH = 32
_AUGMENT = "translate(max_shift=1)|brightness(strength=0.4)"


def _config(name: str, **method):
    config = load_config(name)
    config.model.hidden = (32,)
    config.model.latent_dim = 16
    config.method.projection_hidden = 32
    config.method.projection_dim = 8
    config.method.augment = _AUGMENT
    if "predictor_hidden" in config.method:
        config.method.predictor_hidden = 16
    for key, value in method.items():
        config.method[key] = value
    config.input.batch_size = _BATCH
    config.train.total_steps = 3
    config.optim.schedule.warmup_steps = 1
    config.evals.every = 0
    config.evals.embedding_plot = False
    return config


def _images(n: int = _BATCH, seed: int = 0) -> jax.Array:
    return jax.random.uniform(jax.random.key(seed), (n, 8, 8, 1))


def _method(config):
    return build_method(config, (8, 8, 1), 10)


@pytest.mark.parametrize("name", ["simclr_digits", "byol_digits"])
def test_objective_is_a_finite_scalar_with_finite_grads(name):
    method = _method(_config(name))
    batch = {"image": _images()}
    params, extra = method.init(jax.random.key(0), batch)
    grad_fn = jax.jit(jax.value_and_grad(method.make_objective(extra), has_aux=True))
    (loss, aux), grads = grad_fn(params, batch, jax.random.key(1))
    chex.assert_shape(loss, ())
    assert loss.dtype == jnp.float32
    chex.assert_tree_all_finite((loss, aux["metrics"], grads))
    assert max(float(jnp.abs(g).max()) for g in jax.tree.leaves(grads)) > 0
    # Different view keys give different views, hence a different loss.
    (other, _), _ = grad_fn(params, batch, jax.random.key(2))
    assert float(other) != float(loss)
    features = method.encode(params, extra, batch["image"])
    chex.assert_shape(features, (_BATCH, 16))  # Encoder features, not the head.


def test_simclr_loss_is_nt_xent_of_the_two_projected_views():
    from jaxssl.data import make_augment_fn
    from jaxssl.methods.simclr import two_views

    config = _config("simclr_digits", temperature=0.2)
    method = _method(config)
    images = _images()
    params, extra = method.init(jax.random.key(0), {"image": images})
    rng = jax.random.key(3)
    objective = jax.jit(method.make_objective(extra))
    loss, _ = objective(params, {"image": images}, rng)

    @jax.jit
    def reference(params, images, rng):
        augment_fn = make_augment_fn(config.method.augment)
        view1, view2 = two_views(augment_fn, rng, images)
        z1, z2 = method.project(params, view1), method.project(params, view2)
        return losses.nt_xent(z1, z2, temperature=0.2)

    expected = reference(params, images, rng)
    np.testing.assert_allclose(loss, expected, rtol=1e-5, atol=1e-6)


def _run_trainer(config, num_devices: int, parallel: str = "jit", steps: int = 2):
    config.parallel = parallel
    config.num_devices = num_devices
    exp = train.build_experiment(config)
    dp = exp.parallel
    rng_init, rng_train = jax.random.split(jax.random.key(config.seed))
    state = dp.put_replicated(train.init_state(exp, rng_init))
    data = train.place_data(exp)
    step_fn = train.compile_train_step(exp)
    losses_seen = []
    for _ in range(steps):
        state, metrics = step_fn(state, data, rng_train)
        losses_seen.append(float(dp.unreplicate(metrics)["loss"]))
    return jax.device_get(dp.unreplicate(state)), losses_seen


def test_simclr_on_eight_devices_matches_one_device():
    """The global-batch loss (negatives from every device) under the jit mesh."""
    assert jax.device_count() == 8
    single, single_losses = _run_trainer(_config("simclr_digits"), 1)
    multi, multi_losses = _run_trainer(_config("simclr_digits"), 8)
    np.testing.assert_allclose(multi_losses, single_losses, rtol=1e-5, atol=1e-6)
    chex.assert_trees_all_close(multi.params, single.params, rtol=1e-4, atol=1e-6)


@pytest.mark.slow  # Two more trainer compilations (~20 s on an idle 2-core CPU).
def test_simclr_pmap_gathers_negatives_from_every_device():
    """Under pmap each device sees 4 rows; its loss still uses all 32 as negatives.

    With a deterministic "augmentation" (a no-op crop covering the whole
    image), the per-device rngs do not matter, so pmap's averaged loss and
    gradients must equal the single-device global-batch ones.
    """
    identity = "resized_crop(scale=(1.0, 1.0), ratio=(1.0, 1.0))"
    single, single_losses = _run_trainer(
        _config("simclr_digits", augment=identity), 1, steps=1
    )
    multi, multi_losses = _run_trainer(
        _config("simclr_digits", augment=identity), 8, parallel="pmap", steps=1
    )
    np.testing.assert_allclose(multi_losses, single_losses, rtol=1e-5, atol=1e-6)
    chex.assert_trees_all_close(multi.params, single.params, rtol=1e-4, atol=1e-6)
    # A per-device loss (4 rows, 7 negatives) would be near log(7), not log(63).
    assert single_losses[0] > np.log(2 * _BATCH - 1) - 0.5


def test_byol_target_gets_no_gradient():
    method = _method(_config("byol_digits"))
    batch = {"image": _images()}
    params, extra = method.init(jax.random.key(0), batch)
    # Perturb the target so it differs from the online network.
    extra = jax.tree.map(lambda x: x * 1.1, extra)

    def loss_of_target(target):
        objective = method.make_objective({"target": target})
        return objective(params, batch, jax.random.key(1))[0]

    grads = jax.jit(jax.grad(loss_of_target))(extra["target"])
    for leaf in jax.tree.leaves(grads):
        np.testing.assert_array_equal(leaf, np.zeros_like(leaf))
    assert "target" not in params


def test_byol_target_moves_by_ema_exactly():
    config = _config("byol_digits", tau_base=0.9, tau_schedule="cosine")
    config.train.total_steps = 4
    config.optim.schedule = dict(name="constant")  # Warmup would give lr 0 at step 0.
    config.num_devices = 1
    exp = train.build_experiment(config)
    state = train.init_state(exp, jax.random.key(0))
    chex.assert_trees_all_equal(
        state.extra["target"],
        {"encoder": state.params["encoder"], "projector": state.params["projector"]},
    )
    state = jax.device_get(state)
    old_target = state.extra["target"]
    step_fn = train.compile_train_step(exp)
    placed = exp.parallel.put_replicated(state)
    new, _ = step_fn(placed, train.place_data(exp), jax.random.key(5))
    new = jax.device_get(new)
    online = {"encoder": new.params["encoder"], "projector": new.params["projector"]}
    # Step 0 of a cosine schedule: tau = tau_base.
    np.testing.assert_allclose(exp.method.tau(jnp.asarray(0)), 0.9, rtol=1e-6)
    expected = jax.tree.map(lambda t, o: 0.9 * t + 0.1 * o, old_target, online)
    chex.assert_trees_all_close(new.extra["target"], expected, rtol=1e-6, atol=1e-7)
    # The online weights moved, and the target did not simply copy them.
    moved = jax.tree.map(lambda a, b: np.abs(a - b).max(), online, old_target)
    assert max(jax.tree.leaves(moved)) > 0
    # tau rises to 1 at the end of the run; constant stays at tau_base.
    np.testing.assert_allclose(exp.method.tau(jnp.asarray(4)), 1.0, rtol=1e-6)
    np.testing.assert_allclose(exp.method.tau(jnp.asarray(2)), 0.95, rtol=1e-6)
    constant = _method(_config("byol_digits", tau_base=0.9, tau_schedule="constant"))
    np.testing.assert_allclose(constant.tau(jnp.asarray(3)), 0.9, rtol=1e-6)


def test_ema_update_formula():
    target = {"w": jnp.array([1.0, 2.0])}
    online = {"w": jnp.array([3.0, -2.0])}
    got = ema_update(target, online, jnp.float32(0.75))
    np.testing.assert_allclose(got["w"], [1.5, 1.0], atol=1e-6)


@pytest.mark.parametrize(
    "name, field, value, message",
    [
        ("simclr_digits", "temperature", 0.0, r"method.temperature=0.0 must be"),
        ("simclr_digits", "projection_dim", -1, r"method.projection_dim=-1 must be"),
        (
            "simclr_digits",
            "projection_norm",
            "batchnorm",
            r"method.projection_norm='batchnorm' is not one of: none, layernorm",
        ),
        ("simclr_digits", "augment", "", r"method.augment='' must be a non-empty"),
        (
            "simclr_digits",
            "augment",
            "rotate(deg=3)",
            r"method.augment: unknown augmentation 'rotate'.*allowed names:",
        ),
        (
            "byol_digits",
            "tau_schedule",
            "linear",
            r"method.tau_schedule='linear' is not one of: cosine, constant",
        ),
        ("byol_digits", "tau_base", 1.5, r"method.tau_base=1.5 must be a number in"),
        (
            "simclr_digits",
            "tau_base",
            0.99,
            r"method.tau_base is not a field of method 'simclr'; allowed fields: "
            r"augment, name, projection_dim",
        ),
    ],
)
def test_bad_fields_are_clear_errors(name, field, value, message):
    config = _config(name)
    config.method[field] = value
    with pytest.raises(ValueError, match=message):
        _method(config)
