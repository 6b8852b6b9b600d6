"""Rotation, jigsaw and colorization methods: objectives, labels, metrics, config."""

import importlib.util

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxssl.data.pretext import AB_SCALE, colorization_batch
from jaxssl.methods import build_method
from jaxssl.methods.rotation import pretext_accuracy
from tests.helpers import load_config

_BATCH = 4


def _config(name: str, **method):
    config = load_config(name)
    config.model.hidden = (16,)
    config.model.latent_dim = 8
    for key, value in method.items():
        config.method[key] = value
    return config


def _images(shape=(8, 8, 1), n: int = _BATCH, seed: int = 0) -> jax.Array:
    return jax.random.uniform(jax.random.key(seed), (n, *shape))


def _value_and_grad(method, batch, rng=1):
    params, extra = jax.jit(method.init)(jax.random.key(0), batch)
    grad_fn = jax.jit(jax.value_and_grad(method.make_objective(extra), has_aux=True))
    (loss, aux), grads = grad_fn(params, batch, jax.random.key(rng))
    chex.assert_shape(loss, ())
    assert loss.dtype == jnp.float32
    chex.assert_tree_all_finite((loss, aux["metrics"], grads))
    assert max(float(jnp.abs(g).max()) for g in jax.tree.leaves(grads)) > 0
    return params, extra, loss, aux


def test_pretext_accuracy_on_a_hand_built_case():
    logits = jnp.array([[2.0, 1.0, 0.0], [0.0, 3.0, 1.0], [1.0, 0.0, 5.0], [4, 1, 2]])
    labels = jnp.array([0, 0, 2, 0])
    np.testing.assert_allclose(pretext_accuracy(logits, labels), 0.75, atol=1e-6)
    with pytest.raises(ValueError, match="logits must be"):
        pretext_accuracy(logits, labels[:3])


def test_rotation_objective_labels_and_eval_accuracy():
    method = build_method(_config("rotation_digits", augment=""), (8, 8, 1), 10)
    images = _images()
    params, extra, loss, aux = _value_and_grad(method, {"image": images})

    @jax.jit  # One compilation for everything below (eager ops compile one by one).
    def outputs(params, images):
        inputs, labels = method.pretext_inputs(jax.random.key(2), images)
        metrics = method.eval_metrics(params, extra, {"image": images})
        features = method.encode(params, extra, images)
        return inputs, labels, metrics, method.logits(params, inputs), features

    inputs, labels, metrics, logits, features = outputs(params, images)
    # Without augmentation, the inputs are the four rotations, labelled k.
    chex.assert_shape(inputs, (4 * _BATCH, 8, 8, 1))
    for k in range(4):
        np.testing.assert_array_equal(labels[k * _BATCH : (k + 1) * _BATCH], k)
        expected = np.rot90(np.asarray(images), k, axes=(1, 2))
        np.testing.assert_array_equal(inputs[k * _BATCH : (k + 1) * _BATCH], expected)
    # The eval accuracy is the head's arg-max agreement over all 4 rotations.
    expected = np.mean(np.argmax(np.asarray(logits), -1) == np.asarray(labels))
    np.testing.assert_allclose(metrics["pretext_accuracy"], expected, atol=1e-6)
    chex.assert_shape(features, (_BATCH, 8))


def test_rotation_random_mode_labels_match_the_rotations():
    method = build_method(
        _config("rotation_digits", augment="", rotations="random"), (8, 8, 1), 10
    )
    images = _images(n=8)
    inputs, labels = jax.jit(method.pretext_inputs)(jax.random.key(3), images)
    for i in range(8):
        expected = np.rot90(np.asarray(images[i]), int(labels[i]), axes=(0, 1))
        np.testing.assert_array_equal(inputs[i], expected)


def test_jigsaw_objective_labels_and_features():
    config = _config("jigsaw_digits")
    method = build_method(config, (8, 8, 1), 10)
    assert method.tile_size == 4 and method.grid == 2 and len(method.permutations) == 24
    images = _images()
    params, extra, _, _ = _value_and_grad(method, {"image": images})

    @jax.jit
    def outputs(params, images):
        tiles, labels = method.puzzles(jax.random.key(5), images)
        metrics = method.eval_metrics(params, extra, {"image": images})
        return tiles, labels, metrics, method.encode(params, extra, images)

    tiles, labels, metrics, features = outputs(params, images)
    chex.assert_shape(tiles, (_BATCH, 4, 4, 4, 1))
    # Output position j holds tile permutations[label][j] of the row-major cells.
    cells = (
        np.asarray(images).reshape(_BATCH, 2, 4, 2, 4, 1).transpose(0, 1, 3, 2, 4, 5)
    )
    cells = cells.reshape(_BATCH, 4, 4, 4, 1)
    for i in range(_BATCH):
        order = method.permutations[int(labels[i])]
        np.testing.assert_array_equal(tiles[i], cells[i][list(order)])
    chex.assert_shape(features, (_BATCH, 4 * 8))  # Concatenated tile features.
    assert 0.0 <= float(metrics["pretext_accuracy"]) <= 1.0


def test_colorization_objective_on_colour_images():
    config = _config("colorization_cifar10", augment="")
    config.model = dict(name="mlp", hidden=(16,), latent_dim=8, activation="relu")
    method = build_method(config, (8, 8, 3), 10)
    images = _images((8, 8, 3))
    params, extra, loss, _ = _value_and_grad(method, {"image": images})

    @jax.jit
    def outputs(params, images):
        metrics = method.eval_metrics(params, extra, {"image": images})
        features = method.encode(params, extra, images)
        return (
            colorization_batch(images)[1],
            method.predict_ab(params, images),
            metrics,
            features,
        )

    ab, pred, metrics, features = outputs(params, images)
    chex.assert_shape(pred, (_BATCH, 8, 8, 2))
    np.testing.assert_allclose(loss, np.mean((pred - ab) ** 2), rtol=1e-5, atol=1e-6)
    expected_error = np.mean(np.abs(pred - ab)) * AB_SCALE
    np.testing.assert_allclose(metrics["ab_abs_error"], expected_error, rtol=1e-5)
    chex.assert_shape(features, (_BATCH, 8))


def test_colorization_rejects_grayscale_data():
    config = load_config("colorization_cifar10")
    config.input.dataset = "digits"
    with pytest.raises(ValueError, match=r"3 channels.*'digits'.*\(1 channel"):
        build_method(config, (8, 8, 1), 10)


@pytest.mark.parametrize(
    "name, field, value, message",
    [
        ("rotation_digits", "rotations", "some", "method.rotations='some' is not one"),
        ("rotation_digits", "head_hidden", (0,), "method.head_hidden"),
        ("rotation_digits", "augment", "spin", "method.augment"),
        ("jigsaw_digits", "grid", 4, "method.grid=4 is not one of: 2, 3"),
        ("jigsaw_digits", "num_permutations", 25, "exceeds the 24 permutations"),
        ("jigsaw_digits", "tile_size", 5, "method.tile_size=5 does not fit"),
        ("colorization_cifar10", "loss", "l1", "method.loss='l1' is not one"),
        ("rotation_digits", "temperature", 0.1, "method.temperature is not a field"),
    ],
)
def test_bad_config_values_name_the_field(name, field, value, message):
    config = load_config(name)
    config.method[field] = value
    shape = (32, 32, 3) if name.startswith("colorization") else (8, 8, 1)
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        build_method(config, shape, 10)


def test_jigsaw_conv_tiles_are_multiples_of_the_stride():
    config = load_config("jigsaw_fashion_mnist")
    method = build_method(config, (28, 28, 1), 10)
    assert method.tile_size == 8  # 3x3 grid of 9x9 cells, conv (32, 64): x 4
    config.method.grid, config.method.num_permutations = 2, 24
    method = build_method(config, (28, 28, 1), 10)
    assert method.tile_size == 12  # 2x2 grid of 14x14 cells
    config.method.tile_size = 10
    with pytest.raises(ValueError, match="multiple of 4"):
        build_method(config, (28, 28, 1), 10)


@pytest.mark.skipif(
    importlib.util.find_spec("tensorflow") is None,
    reason="tensorflow absent: TFDS mock data needs it (pip install jaxssl[tfds])",
)
@pytest.mark.slow  # TFDS mock preparation plus a trainer compile (~30 s loaded).
def test_colorization_config_trains_on_tfds_mock_cifar10(tmp_path):
    """The CIFAR-10 config's wiring, on TFDS's locally generated fake CIFAR-10."""
    import tensorflow_datasets as tfds

    from jaxssl import train

    config = load_config("colorization_cifar10")
    config.input.data_dir = str(tmp_path)
    config.input.batch_size = 8
    config.model.features = (8, 16)
    config.model.latent_dim = 16
    config.num_devices = 1
    config.train.total_steps = 2
    config.optim.schedule.warmup_steps = 1
    with tfds.testing.mock_data(num_examples=16):
        exp = train.build_experiment(config)
    assert exp.dataset.image_shape == (32, 32, 3)
    rng_init, rng_train = jax.random.split(jax.random.key(0))
    state = train.init_state(exp, rng_init)
    data, step_fn = train.place_data(exp), train.compile_train_step(exp)
    for _ in range(2):
        state, metrics = step_fn(state, data, rng_train)
    chex.assert_tree_all_finite((state.params, metrics))
    assert int(state.step) == 2
