"""CMC: view transforms, loss = sum of pairwise InfoNCE, grads, config errors."""

import itertools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxssl import losses
from jaxssl.methods import build_method
from jaxssl.methods.cmc import (
    global_multiview_nce,
    laplacian,
    make_views,
    sobel_magnitude,
    sobel_x,
    sobel_y,
)
from tests.helpers import load_config

_BATCH = 8
# Cheap ops: the configs' crops are compiled by test_configs.
_AUGMENT = "brightness(strength=0.4)|contrast(strength=0.4)"


def _config(**method):
    config = load_config("cmc_digits")
    config.model.hidden = (16,)
    config.model.latent_dim = 8
    config.method.projection_hidden = 16
    config.method.projection_dim = 8
    config.method.augment = _AUGMENT
    for key, value in method.items():
        config.method[key] = value
    return config


def _images(n: int = _BATCH, seed: int = 0, channels: int = 1) -> jax.Array:
    return jax.random.uniform(jax.random.key(seed), (n, 8, 8, channels))


def test_view_transforms_on_a_hand_built_image():
    # A vertical step edge: columns 0..2 are 0, columns 3..5 are 1.
    image = np.zeros((1, 5, 6, 1), np.float32)
    image[:, :, 3:] = 1.0
    gx, gy = np.asarray(sobel_x(image)), np.asarray(sobel_y(image))
    np.testing.assert_allclose(gx[0, :, :, 0], [[0, 0, 0.5, 0.5, 0, 0]] * 5, atol=1e-6)
    np.testing.assert_allclose(gy, 0.0, atol=1e-6)
    magnitude = np.asarray(sobel_magnitude(image))
    np.testing.assert_allclose(magnitude, np.abs(gx), atol=1e-5)
    lap = np.asarray(laplacian(image))
    np.testing.assert_allclose(lap[0, :, :, 0], [[0, 0, 1, -1, 0, 0]] * 5, atol=1e-6)
    # A horizontal edge is the transpose.
    np.testing.assert_allclose(
        np.asarray(sobel_y(np.swapaxes(image, 1, 2))), np.swapaxes(gx, 1, 2), atol=1e-6
    )


def _objective_and_parts(config, images, rng, with_grads=True):
    method = build_method(config, images.shape[1:], 10)
    # One compiled init is cheaper than Flax's eager op-by-op init.
    params, extra = jax.jit(method.init)(jax.random.key(0), {"image": images})
    objective = method.make_objective(extra)
    if with_grads:
        objective = jax.value_and_grad(objective, has_aux=True)
        (loss, aux), grads = jax.jit(objective)(params, {"image": images}, rng)
    else:
        (loss, aux), grads = jax.jit(objective)(params, {"image": images}, rng), None
    views = make_views(
        images,
        rng,
        views=method.views,
        augment=method.augment,
        independent_augment=method.independent_augment,
    )
    embeddings = method.project(params, views)
    return method, params, extra, loss, aux, grads, embeddings


@pytest.mark.parametrize("pairs", ["full", "core"])
def test_loss_over_three_views_is_the_mean_of_pairwise_info_nce(pairs):
    config = _config(pairs=pairs, temperature=0.3)
    images = _images()
    rng = jax.random.key(5)
    _, _, _, loss, aux, grads, embeddings = _objective_and_parts(
        config, images, rng, with_grads=pairs == "full"
    )
    chex.assert_shape(embeddings, (3, _BATCH, 8))
    ordered = [
        (i, j)
        for i, j in itertools.permutations(range(3), 2)
        if pairs == "full" or 0 in (i, j)
    ]
    assert len(ordered) == (6 if pairs == "full" else 4)
    pairwise = [
        float(losses.info_nce(embeddings[i], embeddings[j], temperature=0.3))
        for i, j in ordered
    ]
    np.testing.assert_allclose(float(loss), np.mean(pairwise), rtol=1e-5, atol=1e-6)
    chex.assert_shape(loss, ())
    chex.assert_tree_all_finite((loss, aux["metrics"]))
    if grads is None:
        return
    chex.assert_tree_all_finite(grads)
    # Every view's encoder and head is trained.
    for view_grads in grads.values():
        assert max(float(jnp.abs(g).max()) for g in jax.tree.leaves(view_grads)) > 0


def test_views_use_independent_augmentations_and_their_own_encoders():
    images = _images()
    method = build_method(_config(), images.shape[1:], 10)
    params, extra = method.init(jax.random.key(0), {"image": images})
    assert len(params) == 3
    views = make_views(
        images,
        jax.random.key(1),
        views=("identity", "identity"),
        augment=_AUGMENT,
        independent_augment=True,
    )
    assert float(jnp.abs(views[0] - views[1]).max()) > 0
    shared = make_views(
        images,
        jax.random.key(1),
        views=("identity", "sobel"),
        augment=_AUGMENT,
        independent_augment=False,
    )
    np.testing.assert_allclose(shared[1], sobel_magnitude(shared[0]), atol=1e-6)
    # encode: the three encoders' features on the plain image, concatenated.
    features = method.encode(params, extra, images)
    chex.assert_shape(features, (_BATCH, 3 * 8))
    first = method.encoders[0].apply(params["view0_identity"]["encoder"], images)
    np.testing.assert_allclose(features[:, :8], first, rtol=1e-6, atol=1e-6)
    edges = method.encoders[1].apply(
        params["view1_sobel"]["encoder"], sobel_magnitude(images)
    )
    np.testing.assert_allclose(features[:, 8:16], edges, rtol=1e-6, atol=1e-6)


@pytest.mark.slow  # Compiles rgb_to_lab and two more encoders (~8 s).
def test_colour_views_are_l_and_ab():
    config = _config(views=("lab_l", "lab_ab"), features="first")
    images = _images(channels=3)
    method, params, extra, loss, _, _, embeddings = _objective_and_parts(
        config, images, jax.random.key(2), with_grads=False
    )
    chex.assert_shape(embeddings, (2, _BATCH, 8))
    chex.assert_tree_all_finite(loss)
    ab_params = params["view1_lab_ab"]["encoder"]
    fan_ins = [leaf.shape[0] for leaf in jax.tree.leaves(ab_params) if leaf.ndim == 2]
    assert 8 * 8 * 2 in fan_ins  # The ab encoder reads 2 channels.
    chex.assert_shape(method.encode(params, extra, images), (_BATCH, 8))


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("views", ("identity",), "method.views=.* at least 2"),
        ("views", ("identity", "hog"), "method.views: 'hog' is not one of"),
        ("views", ("identity", "lab_ab"), "needs 3-channel images"),
        ("pairs", "star", "method.pairs='star' is not one of"),
        ("features", "sum", "method.features='sum' is not one of"),
        ("augment", "", "method.augment"),
        ("temperature", -1.0, "method.temperature"),
        ("steps", (1,), "method.steps is not a field"),
    ],
)
def test_bad_fields_are_clear_errors(field, value, message):
    config = _config()
    config.method[field] = value
    with pytest.raises(ValueError, match=message):
        build_method(config, (8, 8, 1), 10)


@pytest.mark.slow  # A 4-device pmap compilation (~10 s on a loaded 2-core CPU).
def test_pmap_gathers_every_view_and_matches_the_global_loss_and_grads():
    devices = 4
    embeddings = jax.random.normal(jax.random.key(0), (3, 8, 5))

    def loss_fn(x, axis_name):
        return global_multiview_nce(
            x, temperature=0.3, pairs="full", axis_name=axis_name
        )

    want, want_grad = jax.value_and_grad(loss_fn)(embeddings, None)
    shards = jnp.moveaxis(embeddings.reshape(3, devices, 2, 5), 1, 0)  # [4, 3, 2, 5]

    def per_device(x):
        return jax.value_and_grad(loss_fn)(x, "data")

    loss, grad = jax.pmap(per_device, axis_name="data", devices=jax.devices()[:4])(
        shards
    )
    np.testing.assert_allclose(loss, np.full(devices, want), rtol=1e-5, atol=1e-6)
    # Every device computes the global loss, so the all-gather's transpose sums
    # `devices` equal cotangents onto each device's rows; the trainer's pmean
    # of parameter gradients then divides by `devices` again.
    got = np.moveaxis(np.asarray(grad), 0, 1).reshape(3, 8, 5)
    np.testing.assert_allclose(got / devices, want_grad, rtol=1e-4, atol=1e-6)
