"""Tests for jaxssl.data.pipeline: on-device batching and the host batcher."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from jaxssl.data.pipeline import (
    DeviceDataset,
    HostBatcher,
    batch_indices,
    get_batch,
    make_device_dataset,
    to_float,
)

NUM_EXAMPLES, BATCH_SIZE = 50, 8  # 6 steps per epoch, 2 examples dropped.


def _data(num_examples=NUM_EXAMPLES):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (num_examples, 4, 4, 1), np.uint8)
    return images, np.arange(num_examples) % 5


def test_to_float():
    images = np.array([[0, 51, 255]], np.uint8)
    out = jax.jit(to_float)(images)
    chex.assert_type(out, jnp.float32)
    np.testing.assert_allclose(out, [[0.0, 0.2, 1.0]], rtol=1e-6)


def test_batch_indices_cover_each_epoch_once():
    rng = jax.random.key(0)
    steps_per_epoch = NUM_EXAMPLES // BATCH_SIZE

    @jax.jit
    @chex.assert_max_traces(n=1)
    def indices_fn(step):
        return batch_indices(rng, NUM_EXAMPLES, BATCH_SIZE, step)

    epochs = []
    for epoch in range(2):
        steps = range(epoch * steps_per_epoch, (epoch + 1) * steps_per_epoch)
        batches = [indices_fn(jnp.int32(step)) for step in steps]
        for batch in batches:
            chex.assert_shape(batch, (BATCH_SIZE,))
            chex.assert_type(batch, jnp.int32)
        seen = np.concatenate(batches)
        assert np.unique(seen).size == seen.size  # No example twice per epoch.
        assert seen.min() >= 0 and seen.max() < NUM_EXAMPLES
        epochs.append(seen)
    assert not np.array_equal(epochs[0], epochs[1])  # Reshuffled each epoch.


def test_batch_indices_exact_epoch_is_a_permutation():
    rng = jax.random.key(1)
    seen = np.concatenate(
        [batch_indices(rng, 12, 4, step) for step in range(3, 6)]  # Epoch 1.
    )
    np.testing.assert_array_equal(np.sort(seen), np.arange(12))


def test_batch_indices_deterministic_and_jit_equals_eager():
    rng = jax.random.key(2)
    jitted = jax.jit(batch_indices, static_argnums=(1, 2))
    for step in (0, 5, 13):
        eager = batch_indices(rng, NUM_EXAMPLES, BATCH_SIZE, step)
        np.testing.assert_array_equal(
            jitted(rng, NUM_EXAMPLES, BATCH_SIZE, jnp.int32(step)), eager
        )
        # A resumed run (a fresh call at the same step) sees the same batch.
        np.testing.assert_array_equal(
            batch_indices(rng, NUM_EXAMPLES, BATCH_SIZE, step), eager
        )
    other = batch_indices(jax.random.key(3), NUM_EXAMPLES, BATCH_SIZE, 0)
    first = batch_indices(rng, NUM_EXAMPLES, BATCH_SIZE, 0)
    assert not np.array_equal(other, first)


@pytest.mark.parametrize("batch_size", [0, -1, NUM_EXAMPLES + 1])
def test_batch_indices_bad_batch_size(batch_size):
    with pytest.raises(ValueError, match="input.batch_size"):
        batch_indices(jax.random.key(0), NUM_EXAMPLES, batch_size, 0)


def test_device_dataset_and_get_batch():
    images, labels = _data()
    data = make_device_dataset(images, labels)
    assert isinstance(data, DeviceDataset)
    assert data.num_examples == NUM_EXAMPLES
    chex.assert_type(data.images, jnp.uint8)
    chex.assert_type(data.labels, jnp.int32)

    @jax.jit
    def batch_fn(data, rng, step):
        return get_batch(data, batch_indices(rng, data.num_examples, BATCH_SIZE, step))

    rng = jax.random.key(4)
    batch = batch_fn(data, rng, jnp.int32(7))
    chex.assert_shape(batch["image"], (BATCH_SIZE, 4, 4, 1))
    chex.assert_type(batch["image"], jnp.float32)
    chex.assert_type(batch["label"], jnp.int32)
    idx = np.asarray(batch_indices(rng, NUM_EXAMPLES, BATCH_SIZE, 7))
    np.testing.assert_allclose(batch["image"], images[idx] / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(batch["label"], labels[idx])
    chex.assert_type(batch["index"], jnp.int32)
    np.testing.assert_array_equal(batch["index"], idx)


def test_device_dataset_sharded():
    images, labels = _data(64)
    mesh = jax.make_mesh((jax.device_count(),), ("data",))
    data = make_device_dataset(images, labels, NamedSharding(mesh, P()))
    assert data.images.sharding.is_fully_replicated
    batch = jax.jit(get_batch)(data, jnp.arange(8))
    np.testing.assert_array_equal(batch["label"], labels[:8])


def test_make_device_dataset_validates():
    images, labels = _data()
    with pytest.raises(ValueError, match="uint8"):
        make_device_dataset(images.astype(np.float32), labels)
    with pytest.raises(ValueError, match="labels"):
        make_device_dataset(images, labels[:-1])


def test_host_batcher():
    images, labels = _data()
    batcher = HostBatcher(images, labels, BATCH_SIZE, seed=0)
    assert batcher.steps_per_epoch == 6
    stream = iter(batcher)
    batches = [next(stream) for _ in range(batcher.steps_per_epoch)]
    for batch in batches:
        assert batch["image"].dtype == np.float32
        assert batch["image"].shape == (BATCH_SIZE, 4, 4, 1)
        assert batch["label"].dtype == np.int32
        assert batch["image"].max() <= 1.0
    seen = np.concatenate([batcher.indices(step) for step in range(6)])
    assert np.unique(seen).size == seen.size
    # Random access and resuming reproduce the stream.
    np.testing.assert_array_equal(batcher.batch(4)["label"], batches[4]["label"])
    again = HostBatcher(images, labels, BATCH_SIZE, seed=0)
    resumed = next(again.iterate(start_step=3))
    np.testing.assert_array_equal(resumed["image"], batches[3]["image"])
    with pytest.raises(ValueError, match="input.batch_size"):
        HostBatcher(images, labels, 0, seed=0)
