"""Data parallelism: jit-over-mesh and pmap both reproduce the single-device run."""

import chex
import jax
import pytest

from jaxssl import parallel, train
from tests.helpers import small_config


def _run(mode: str, num_devices: int, steps: int = 3, augment: str = ""):
    config = small_config()
    config.parallel = mode
    config.num_devices = num_devices
    config.input.augment = augment
    exp = train.build_experiment(config)
    rng_init, rng_train = jax.random.split(jax.random.key(config.seed))
    dp = exp.parallel
    state = dp.put_replicated(train.init_state(exp, rng_init))
    data = train.place_data(exp)
    step_fn = train.compile_train_step(exp)
    losses = []
    for _ in range(steps):
        state, metrics = step_fn(state, data, rng_train)
        losses.append(float(dp.unreplicate(metrics)["loss"]))
    return jax.device_get(dp.unreplicate(state)), losses


@pytest.mark.parametrize("mode", ["jit", "pmap"])
def test_eight_devices_match_single_device(mode):
    assert jax.device_count() == 8
    single, single_losses = _run("jit", 1, augment="translate(max_shift=1)")
    multi, multi_losses = _run(mode, 8, augment="translate(max_shift=1)")
    chex.assert_trees_all_close(multi.params, single.params, rtol=1e-5, atol=1e-6)
    chex.assert_trees_all_close(multi_losses, single_losses, rtol=1e-5)
    assert int(multi.step) == 3


def test_indivisible_batch_is_a_clear_error():
    with pytest.raises(ValueError, match="input.batch_size=60 is not divisible by"):
        parallel.check_global_batch(60, 8)


def test_unknown_mode_and_device_count():
    with pytest.raises(ValueError, match="parallel='shard' is not one of: jit, pmap"):
        parallel.make_data_parallel("shard")
    with pytest.raises(ValueError, match="num_devices=9 must be in"):
        parallel.make_mesh(9)


def test_step_compiles_once():
    config = small_config()
    config.num_devices = 1
    exp = train.build_experiment(config)
    dp = exp.parallel
    state = dp.put_replicated(train.init_state(exp, jax.random.key(0)))
    data = train.place_data(exp)

    @chex.assert_max_traces(n=1)
    def step(state, data, rng, *, parallel):
        return train.train_step(
            state,
            data,
            rng,
            parallel=parallel,
            method=exp.method,
            tx=exp.tx,
            batch_size=64,
            augment_fn=exp.augment_fn,
        )

    step_fn = dp.compile_step(step)
    for _ in range(3):
        state, _ = step_fn(state, data, jax.random.key(1))
    assert int(state.step) == 3
