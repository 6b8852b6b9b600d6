"""MoCo: the queue holds the last keys in order (1 and 8 devices), EMA, errors."""

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxssl import losses, train
from jaxssl.data import make_augment_fn
from jaxssl.methods import build_method
from jaxssl.methods.contrastive_common import queue_in_order
from jaxssl.methods.simclr import two_views
from jaxssl.parallel import make_data_parallel
from tests.helpers import load_config, run_parallel

_BATCH, _QUEUE = 16, 64  # The queue holds 4 batches.
_AUGMENT = "translate(max_shift=1)|brightness(strength=0.4)"
# A no-op translation: deterministic views, so per-device rngs under pmap don't matter.
_IDENTITY = "translate(max_shift=0)"
_MOMENTUM = 0.9


def _config(**method):
    config = load_config("moco_digits")
    config.model.hidden = (32,)
    config.model.latent_dim = 16
    config.method.projection_hidden = 32
    config.method.projection_dim = 8
    config.method.augment = _AUGMENT
    config.method.queue_size = _QUEUE
    config.method.momentum = _MOMENTUM
    for key, value in method.items():
        config.method[key] = value
    config.input.batch_size = _BATCH
    config.train.total_steps = 3
    config.optim.schedule = dict(name="constant")
    config.evals.every = 0
    config.evals.embedding_plot = False
    return config


def _images(step: int) -> jax.Array:
    return jax.random.uniform(jax.random.key(100 + step), (_BATCH, 8, 8, 1))


def _reference_keys(method, key_params, images, rng, augment=_AUGMENT):
    """Keys of the second view, written out from the modules (not the method)."""
    _, view2 = two_views(make_augment_fn(augment), rng, images)
    features = method.encoder.apply(key_params["encoder"], view2)
    keys = method.projector.apply(key_params["projector"], features)
    return keys / jnp.linalg.norm(keys, axis=1, keepdims=True)


def _reference(method, params, extra, images, rng):
    """Keys to enqueue and MoCo's loss: own key vs the queue, no batch negatives."""
    keys = _reference_keys(method, extra["key"], images, rng)
    view1, _ = two_views(make_augment_fn(_AUGMENT), rng, images)
    queries = method.project(params, view1)
    loss = losses.info_nce(
        queries,
        keys,
        temperature=0.2,
        negatives=extra["queue"],
        in_batch_negatives=False,
    )
    return keys, loss


def test_queue_holds_the_last_keys_in_order_and_key_branch_is_ema():
    method = build_method(_config(), (8, 8, 1), 10)
    params, extra = method.init(jax.random.key(0), {"image": _images(0)})
    initial_queue = np.asarray(extra["queue"])
    chex.assert_shape(initial_queue, (_QUEUE, 8))
    np.testing.assert_allclose(np.linalg.norm(initial_queue, axis=1), 1.0, rtol=1e-5)
    chex.assert_trees_all_equal(extra["key"], params)

    tx = optax.sgd(0.5)
    state = train.TrainState(jnp.zeros((), jnp.int32), params, tx.init(params), extra)
    update = functools.partial(
        train.apply_update, parallel=make_data_parallel("jit", 1), method=method, tx=tx
    )

    @jax.jit  # The reference sees the state before the update.
    def reference_and_update(state, images, rng):
        want = _reference(method, state.params, state.extra, images, rng)
        return want, update(state, {"image": images}, rng)

    expected = []
    steps = 6  # 96 keys: the queue of 64 wraps around.
    for step in range(steps):
        images, rng = _images(step), jax.random.key(step)
        old_key = state.extra["key"]
        (keys, want_loss), (state, metrics) = reference_and_update(state, images, rng)
        expected.append(np.asarray(keys))
        np.testing.assert_allclose(metrics["loss"], want_loss, rtol=1e-5, atol=1e-6)
        # EMA of the key branch towards the *updated* query branch.
        want_key = jax.tree.map(
            lambda k, q: _MOMENTUM * k + (1 - _MOMENTUM) * q, old_key, state.params
        )
        chex.assert_trees_all_close(state.extra["key"], want_key, rtol=1e-6, atol=1e-7)
        if step == 2:  # 48 keys written, the last 16 random rows untouched.
            queue = np.asarray(state.extra["queue"])
            np.testing.assert_allclose(
                queue[:48], np.concatenate(expected), rtol=1e-5, atol=1e-6
            )
            np.testing.assert_array_equal(queue[48:], initial_queue[48:])

    # The key branch moved away from its start and lags the query branch.
    assert int(state.extra["queue_ptr"]) == (steps * _BATCH) % _QUEUE
    moved = jax.tree.map(
        lambda a, b: float(jnp.abs(a - b).max()), state.extra["key"], params
    )
    assert max(jax.tree.leaves(moved)) > 0
    ordered = np.asarray(queue_in_order(state.extra["queue"], state.extra["queue_ptr"]))
    last = np.concatenate(expected)[-_QUEUE:]  # Steps 2..5, oldest first.
    np.testing.assert_allclose(ordered, last, rtol=1e-5, atol=1e-6)


def test_symmetric_loss_enqueues_both_views_keys():
    method = build_method(_config(symmetric=True), (8, 8, 1), 10)
    images, rng = _images(0), jax.random.key(3)
    params, extra = method.init(jax.random.key(0), {"image": images})
    params = jax.tree.map(lambda x: x * 1.05, params)  # Query != key branch.

    def reference(params, extra):
        view1, view2 = two_views(make_augment_fn(_AUGMENT), rng, images)
        unit = lambda x: x / jnp.linalg.norm(x, axis=1, keepdims=True)  # noqa: E731
        k1 = unit(method.project(extra["key"], view1))
        k2 = unit(method.project(extra["key"], view2))
        q1, q2 = method.project(params, view1), method.project(params, view2)
        nce = functools.partial(
            losses.info_nce,
            temperature=0.2,
            negatives=extra["queue"],
            in_batch_negatives=False,
        )
        return k1, k2, 0.5 * (nce(q1, k2) + nce(q2, k1))

    @jax.jit  # One compilation for the method and the reference.
    def both(params, extra):
        got = method.make_objective(extra)(params, {"image": images}, rng)
        return got, reference(params, extra)

    (loss, aux), (k1, k2, want) = both(params, extra)
    np.testing.assert_allclose(loss, want, rtol=1e-5)
    new = aux["extra"]
    assert int(new["queue_ptr"]) == 2 * _BATCH
    np.testing.assert_allclose(new["queue"][:_BATCH], k1, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        new["queue"][_BATCH : 2 * _BATCH], k2, rtol=1e-5, atol=1e-6
    )


def _check_global_queue(parallel: str):
    method = build_method(_config(augment=_IDENTITY), (8, 8, 1), 10)
    initial = jax.device_get(method.init(jax.random.key(0), {"image": _images(0)}))
    batches = [{"image": _images(1)}, {"image": _images(2)}]
    dp, multi = run_parallel(method, initial, batches, parallel, 8)
    if parallel == "pmap":  # Every device holds the same queue.
        for leaf in ("queue", "queue_ptr"):
            stacked = np.asarray(multi.extra[leaf])
            for device in range(1, 8):
                np.testing.assert_array_equal(stacked[device], stacked[0])
        multi = dp.unreplicate(multi)
    _, single = run_parallel(method, initial, batches, "jit", 1)
    assert int(multi.extra["queue_ptr"]) == int(single.extra["queue_ptr"]) == 2 * _BATCH
    chex.assert_trees_all_close(multi.extra, single.extra, rtol=1e-5, atol=1e-6)
    chex.assert_trees_all_close(multi.params, single.params, rtol=1e-4, atol=1e-6)
    # The first 16 rows are the first global batch's keys in global order,
    # from the initial key branch.
    reference = jax.jit(functools.partial(_reference_keys, method, augment=_IDENTITY))
    want = reference(initial[1]["key"], batches[0]["image"], jax.random.key(0))
    np.testing.assert_allclose(
        multi.extra["queue"][:_BATCH], want, rtol=1e-5, atol=1e-6
    )


def test_pmap_queue_holds_the_global_batch_and_equals_one_device():
    """Under pmap each device sees 2 rows but enqueues all 16, in global order."""
    assert jax.device_count() == 8
    _check_global_queue("pmap")


@pytest.mark.slow  # Another 8-device compilation.
def test_sharded_jit_queue_holds_the_global_batch_and_equals_one_device():
    _check_global_queue("jit")


@pytest.mark.parametrize(
    "field, value, message",
    [
        (
            "queue_size",
            40,
            r"method.queue_size=40 must be a positive multiple of the global batch "
            r"size input.batch_size=16 \(e.g. 32\)",
        ),
        ("queue_size", 0, r"method.queue_size=0 must be an integer > 0"),
        ("momentum", 1.5, r"method.momentum=1.5 must be a number in \[0, 1\]"),
        ("temperature", -0.1, r"method.temperature=-0.1 must be a number > 0"),
        (
            "tau_base",
            0.99,
            r"method.tau_base is not a field of method 'moco'; allowed fields: "
            r"augment, momentum, name",
        ),
    ],
)
def test_bad_fields_are_clear_errors(field, value, message):
    config = _config()
    config.method[field] = value
    with pytest.raises(ValueError, match=message):
        build_method(config, (8, 8, 1), 10)
