"""Global-batch contrastive losses on 8 fake devices equal the 1-device values.

A small encoder embeds two views of a global batch of 32 examples; the SimCLR
(NT-Xent) and MoCo (InfoNCE with a queue) losses and their gradients with
respect to the encoder's parameters are computed on one device, then with the
batch split over 8 devices three ways: ``jax.shard_map`` with the gradient
taken outside, ``jaxssl.parallel``'s pmap mode (per-device gradients averaged
by ``DataParallel.reduce``) and its jit mode (a sharded global batch).
"""

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from jaxssl.losses import info_nce, nt_xent
from jaxssl.methods.contrastive_common import (
    bound_axis_name,
    fifo_enqueue,
    gather_rows,
    global_info_nce,
    global_nt_xent,
    queue_in_order,
)
from jaxssl.parallel import AXIS, make_data_parallel, make_mesh

DEVICES, ROWS, DIM_IN, DIM_OUT = 8, 4, 6, 5
BATCH = DEVICES * ROWS
RTOL, ATOL = 1e-5, 1e-6
TEMPERATURE = 0.2


def _encode(params, x):
    return jnp.tanh(x @ params["w1"] + params["b1"][None]) @ params["w2"]


def _problem(seed=0):
    rs = np.random.default_rng(seed)
    params = {
        "w1": rs.normal(size=(DIM_IN, 16)).astype(np.float32),
        "b1": rs.normal(size=(16,)).astype(np.float32),
        "w2": (rs.normal(size=(16, DIM_OUT)) / 4).astype(np.float32),
    }
    x = rs.normal(size=(BATCH, DIM_IN)).astype(np.float32)
    views = (x, x + 0.3 * rs.normal(size=x.shape).astype(np.float32))
    queue = rs.normal(size=(7, DIM_OUT)).astype(np.float32)
    return params, views, queue


# The per-device objective, for a loss name and the mapped axis (or None).
def _objective(params, views, queue, *, loss, axis_name):
    z1, z2 = _encode(params, views[0]), _encode(params, views[1])
    if loss == "simclr":
        return global_nt_xent(z1, z2, temperature=TEMPERATURE, axis_name=axis_name)
    return global_info_nce(
        z1, z2, temperature=TEMPERATURE, negatives=queue, axis_name=axis_name
    )


def _single_device(loss, params, views, queue):
    def objective(params):
        z1, z2 = _encode(params, views[0]), _encode(params, views[1])
        if loss == "simclr":
            return nt_xent(z1, z2, temperature=TEMPERATURE)
        return info_nce(z1, z2, temperature=TEMPERATURE, negatives=queue)

    params = jax.device_put(params, jax.devices()[0])
    return jax.jit(jax.value_and_grad(objective))(params)


def _check(got, want):
    (loss, grads), (want_loss, want_grads) = got, want
    np.testing.assert_allclose(loss, want_loss, rtol=RTOL, atol=ATOL)
    chex.assert_trees_all_close(grads, want_grads, rtol=RTOL, atol=ATOL)


# The MoCo and jit-mode variants compile the same machinery again: slow only.
@pytest.mark.parametrize(
    "loss", ["simclr", pytest.param("moco", marks=pytest.mark.slow)]
)
def test_shard_map_matches_single_device(loss):
    assert jax.device_count() == DEVICES
    params, views, queue = _problem()
    mesh = make_mesh(DEVICES)

    def per_device(params, views, queue):
        local = _objective(params, views, queue, loss=loss, axis_name=bound_axis_name())
        return jax.lax.pmean(local, AXIS)

    sharded = jax.shard_map(
        per_device, mesh=mesh, in_specs=(P(), P(AXIS), P()), out_specs=P()
    )
    got = jax.jit(jax.value_and_grad(sharded))(params, views, queue)
    _check(got, _single_device(loss, params, views, queue))

    # Not vacuous: negatives from this device only give another loss.
    local_only = jax.shard_map(
        lambda *a: jax.lax.pmean(_objective(*a, loss=loss, axis_name=None), AXIS),
        mesh=mesh,
        in_specs=(P(), P(AXIS), P()),
        out_specs=P(),
    )
    different = jax.jit(local_only)(params, views, queue)
    assert abs(float(different) - float(got[0])) > 1e-2


def _trainer_style_step(params, data, rng, *, parallel, loss):
    """What a method's objective sees inside ``jaxssl.parallel``'s step."""
    del rng
    views, queue = parallel.local_batch(data["views"]), data["queue"]
    objective = functools.partial(_objective, loss=loss, axis_name=bound_axis_name())
    value, grads = jax.value_and_grad(objective)(params, views, queue)
    value, grads = parallel.reduce((value, grads))
    return grads, {"loss": value}


@pytest.mark.parametrize("mode", ["pmap", pytest.param("jit", marks=pytest.mark.slow)])
def test_trainer_parallel_modes_match_single_device(mode):
    params, views, queue = _problem(1)
    want = _single_device("simclr", params, views, queue)
    dp = make_data_parallel(mode, DEVICES)
    step = dp.compile_step(functools.partial(_trainer_style_step, loss="simclr"))
    # Under pmap the batch is replicated and each device slices its rows, as
    # the trainer does with its on-device dataset.
    data = dp.put_replicated({"views": views, "queue": queue})
    grads, metrics = step(dp.put_replicated(params), data, jax.random.key(0))
    got = jax.device_get(dp.unreplicate((metrics["loss"], grads)))
    _check(got, want)


def test_gather_rows_and_bound_axis_name():
    x = jnp.arange(BATCH * 2, dtype=jnp.float32).reshape(BATCH, 2)
    mesh = make_mesh(DEVICES)

    def per_device(x):
        assert bound_axis_name() == AXIS
        assert bound_axis_name("model") is None
        return gather_rows(x, bound_axis_name())[None]  # [1, BATCH, 2]

    gathered = jax.jit(
        jax.shard_map(per_device, mesh=mesh, in_specs=P(AXIS), out_specs=P(AXIS))
    )(jax.device_put(x, NamedSharding(mesh, P(AXIS))))
    chex.assert_shape(gathered, (DEVICES, BATCH, 2))
    for device in range(DEVICES):  # Every device holds the whole batch, in order.
        np.testing.assert_array_equal(gathered[device], x)

    def outside(x):
        assert bound_axis_name() is None
        return gather_rows(x, None)

    np.testing.assert_array_equal(jax.jit(outside)(x), x)


def test_global_info_nce_shape_error():
    z = jnp.zeros((4, 3))
    with pytest.raises(ValueError, match="same shape"):
        global_info_nce(z, z[:2])


# --------------------------------------------------------------- MoCo queue


def _key_batches(steps, batch, dim=3, seed=7):
    rs = np.random.default_rng(seed)
    return rs.normal(size=(steps, batch, dim)).astype(np.float32)


def test_queue_holds_the_last_keys_in_order():
    size, batch, steps = 12, 4, 5
    keys = _key_batches(steps, batch)
    initial = np.full((size, 3), -1.0, np.float32)

    @jax.jit
    def run(queue, keys):
        def step(carry, batch_keys):
            return fifo_enqueue(*carry, batch_keys), None

        (queue, pointer), _ = jax.lax.scan(step, (queue, jnp.int32(0)), keys)
        return queue_in_order(queue, pointer)

    all_keys = keys.reshape(-1, 3)
    # After 2 steps: the 4 untouched initial rows, then the 8 keys in order.
    np.testing.assert_array_equal(
        run(initial, keys[:2]), np.concatenate([initial[:4], all_keys[:8]])
    )
    # After 5 steps (20 keys): exactly the last 12, oldest first.
    np.testing.assert_array_equal(run(initial, keys), all_keys[-size:])


def test_queue_holds_the_global_batch_on_every_device():
    size, steps = 32, 3
    keys = _key_batches(steps, BATCH // 2)  # 16 keys per step, 2 per device.
    mesh = make_mesh(DEVICES)

    def per_device(queue, keys):  # keys: [steps, 2, 3] on each device.
        pointer = jnp.int32(0)
        for step in range(steps):
            queue, pointer = fifo_enqueue(
                queue, pointer, keys[step], axis_name=bound_axis_name()
            )
        return queue_in_order(queue, pointer)[None]

    queues = jax.jit(
        jax.shard_map(
            per_device,
            mesh=mesh,
            in_specs=(P(), P(None, AXIS)),
            out_specs=P(AXIS),
        )
    )(jnp.zeros((size, 3)), keys)
    chex.assert_shape(queues, (DEVICES, size, 3))
    want = keys.reshape(-1, 3)[-size:]  # The global batches, device 0's rows first.
    for device in range(DEVICES):
        np.testing.assert_array_equal(queues[device], want)


def test_queue_errors():
    with pytest.raises(ValueError, match="multiple of the global batch 5"):
        fifo_enqueue(jnp.zeros((12, 3)), 0, jnp.zeros((5, 3)))
    with pytest.raises(ValueError, match="must share D"):
        fifo_enqueue(jnp.zeros((12, 3)), 0, jnp.zeros((4, 2)))
