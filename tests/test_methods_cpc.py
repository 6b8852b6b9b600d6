"""CPC: patch grid, causal context, prediction/target wiring, grads, config errors."""

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxssl import losses
from jaxssl.methods import build_method
from jaxssl.methods.cpc import (
    _quadrant_means,
    grouped_cpc_loss,
    patch_grid,
    shifted_targets,
)
from tests.helpers import load_config

_BATCH = 8


def _config(**method):
    config = load_config("cpc_digits")
    config.model.hidden = (16,)
    config.model.latent_dim = 8
    config.method.context_features = 8
    config.method.patch_stride = 2  # A 3x3 grid keeps the tests small.
    config.method.steps = (1, 2)
    for key, value in method.items():
        config.method[key] = value
    return config


def _method(config, shape=(8, 8, 1)):
    return build_method(config, shape, 10)


def _images(n: int = _BATCH, seed: int = 0, shape=(8, 8, 1)) -> jax.Array:
    return jax.random.uniform(jax.random.key(seed), (n, *shape))


def test_patch_grid_is_exact_on_a_hand_built_image():
    # Pixel value = 10 * row + column, so every patch is identifiable.
    image = (10 * np.arange(6)[:, None] + np.arange(6)[None, :]).astype(np.float32)
    images = np.stack([image, -image])[..., None]  # [2, 6, 6, 1]
    patches = np.asarray(patch_grid(images, patch_size=4, stride=2))
    chex.assert_shape(patches, (2, 2, 2, 4, 4, 1))
    for r in range(2):
        for j in range(2):
            want = image[2 * r : 2 * r + 4, 2 * j : 2 * j + 4]
            np.testing.assert_array_equal(patches[0, r, j, :, :, 0], want)
            np.testing.assert_array_equal(patches[1, r, j, :, :, 0], -want)
    # Patch [0, 1, 0] by hand: rows 2..5, columns 0..3.
    np.testing.assert_array_equal(
        patches[0, 1, 0, 0, :, 0], np.array([20, 21, 22, 23], np.float32)
    )
    # Non-overlapping stride gives the image back tile by tile.
    tiles = np.asarray(patch_grid(images, patch_size=3, stride=3))
    chex.assert_shape(tiles, (2, 2, 2, 3, 3, 1))
    np.testing.assert_array_equal(tiles[0, 1, 1, :, :, 0], image[3:, 3:])


def test_context_at_row_r_does_not_see_patches_below():
    method = _method(_config(context_layers=3, context_kernel=(2, 3)))
    images = _images(2)
    params, _ = method.init(jax.random.key(0), {"image": images})
    patches = method.patches(images)  # [2, 3, 3, 4, 4, 1]
    rows = patches.shape[1]

    def contexts(patches):
        return method.contexts_from_patches(params, patches)[1]

    # d context[b, r, j, f] / d patches[b', r', j', ...]
    jac = np.abs(np.asarray(jax.jit(jax.jacrev(contexts))(patches)))
    jac = jac.reshape(*jac.shape[:4], *jac.shape[4:7], -1).max(axis=-1)
    for r in range(rows):
        below = jac[:, r, :, :, :, r + 1 :]
        above = jac[:, r, :, :, :, : r + 1]
        assert below.size == 0 or below.max() == 0.0, f"row {r} sees rows below"
        assert above.max() > 0, f"row {r} sees nothing at or above it"
    # The last row sees the first row's every column; images do not mix.
    assert jac[0, rows - 1, :, :, 0, 0].max(axis=(0, 1)).min() > 0
    np.testing.assert_array_equal(jac[0, :, :, :, 1], 0.0)


def test_shifted_targets_pairs_each_prediction_with_the_patch_k_rows_below():
    z = jnp.arange(2 * 3 * 2 * 1, dtype=jnp.float32).reshape(2, 3, 2, 1)
    preds = jnp.zeros((2, 2, 3, 2, 1))
    _, targets, mask = shifted_targets(z, preds, (1, 2))
    np.testing.assert_array_equal(targets[0, :, :2], z[:, 1:])
    np.testing.assert_array_equal(targets[1, :, :1], z[:, 2:])
    np.testing.assert_array_equal(mask[0, 0], [[1, 1], [1, 1], [0, 0]])
    np.testing.assert_array_equal(mask[1, 1], [[1, 1], [0, 0], [0, 0]])


def _numpy_cpc(predictions, targets, cosine=False, temperature=1.0):
    """Mean cross-entropy of row i against all rows of targets (NumPy)."""
    predictions, targets = predictions.astype(np.float64), targets.astype(np.float64)
    if cosine:
        predictions /= np.linalg.norm(predictions, axis=1, keepdims=True)
        targets /= np.linalg.norm(targets, axis=1, keepdims=True)
    logits = predictions @ targets.T / temperature
    peak = logits.max(axis=1, keepdims=True)
    logsumexp = np.log(np.exp(logits - peak).sum(axis=1)) + peak[:, 0]
    return float(np.mean(logsumexp - np.diag(logits)))


def _reference_cpc(predictions, z, steps, groups, **score):
    """Explicit loops: valid (prediction, target) rows per step and group."""
    predictions, z = np.asarray(predictions), np.asarray(z)
    batch, rows, cols, _ = z.shape
    size = batch // groups
    total, count = 0.0, 0
    for g in range(groups):
        for i, k in enumerate(steps):
            pred_rows, target_rows = [], []
            for b in range(g * size, (g + 1) * size):
                for r in range(rows - k):
                    for j in range(cols):
                        pred_rows.append(predictions[i, b, r, j])
                        target_rows.append(z[b, r + k, j])
            loss = _numpy_cpc(np.stack(pred_rows), np.stack(target_rows), **score)
            total += loss * len(pred_rows)
            count += len(pred_rows)
    return total / count


@pytest.mark.parametrize("group", [0, 2])
def test_wiring_matches_cpc_loss_on_compacted_valid_rows(group):
    steps = (1, 2)
    z = jax.random.normal(jax.random.key(0), (4, 3, 2, 5))
    preds = jax.random.normal(jax.random.key(1), (2, 4, 3, 2, 5))
    loss_fn = functools.partial(grouped_cpc_loss, group=group, temperature=1.0)
    got = jax.jit(loss_fn)(*shifted_targets(z, preds, steps))
    want = _reference_cpc(preds, z, steps, 1 if group == 0 else 4 // group)
    np.testing.assert_allclose(float(got), want, rtol=1e-5, atol=1e-6)
    # The reference itself agrees with the library's cpc_loss on full rows.
    rows = np.asarray(preds[0, :, :2]).reshape(-1, 5)
    targets = np.asarray(z[:, 1:]).reshape(-1, 5)
    np.testing.assert_allclose(
        float(losses.cpc_loss(rows, targets)), _numpy_cpc(rows, targets), rtol=1e-5
    )


@pytest.mark.parametrize("score, temperature", [("dot", 1.0), ("cosine", 0.2)])
def test_objective_is_the_grouped_loss_of_the_model_outputs_with_finite_grads(
    score, temperature
):
    config = _config(
        augment="", steps=(1, 2), negative_group=4, score=score, temperature=temperature
    )
    method = _method(config)
    batch = {"image": _images()}
    params, extra = method.init(jax.random.key(0), batch)
    objective = method.make_objective(extra)
    grad_fn = jax.jit(jax.value_and_grad(objective, has_aux=True))
    (loss, aux), grads = grad_fn(params, batch, jax.random.key(1))
    chex.assert_shape(loss, ())
    assert loss.dtype == jnp.float32
    chex.assert_tree_all_finite((loss, aux["metrics"], grads))
    for name in ("encoder", "context", "predictors"):
        assert max(float(jnp.abs(g).max()) for g in jax.tree.leaves(grads[name])) > 0

    z, contexts = method.contexts_from_patches(params, method.patches(batch["image"]))
    kernel = params["predictors"]["params"]["kernel"]  # [F, K, D]
    preds = jnp.einsum("brcf,fkd->kbrcd", contexts, kernel)
    want = _reference_cpc(
        preds, z, (1, 2), _BATCH // 4, cosine=score == "cosine", temperature=temperature
    )
    np.testing.assert_allclose(float(loss), want, rtol=1e-5, atol=1e-6)

    features = method.encode(params, extra, batch["image"])
    np.testing.assert_allclose(features, z.mean(axis=(1, 2)), rtol=1e-6, atol=1e-6)


def test_fashion_config_builds_on_28x28_with_a_conv_patch_encoder():
    config = load_config("cpc_fashion_mnist")
    method = build_method(config, (28, 28, 1), 10)
    images = _images(2, shape=(28, 28, 1))
    assert method.patches(images).shape[1:3] == (6, 6)
    shapes = jax.eval_shape(
        lambda: method.encode(
            method.init(jax.random.key(0), {"image": images})[0], {}, images
        )
    )
    # features="patches_2x2": the four quadrant means, concatenated.
    assert shapes.shape == (2, 4 * config.model.latent_dim)


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("patch_size", 10, "method.patch_size=10 is larger"),
        ("patch_size", 3, "do not tile"),
        ("patch_stride", 0, "method.patch_stride=0"),
        ("steps", (1, 3), "method.steps"),
        ("steps", (), "method.steps"),
        ("steps", (1, 1), "method.steps"),
        ("context_kernel", (2,), "method.context_kernel"),
        ("negative_group", -1, "method.negative_group"),
        ("features", "pooled", "method.features='pooled' is not one of"),
        ("augment", "spin", "method.augment"),
        ("temperature", 0.0, "method.temperature"),
        ("projection_dim", 8, "method.projection_dim is not a field"),
    ],
)
def test_bad_fields_are_clear_errors(field, value, message):
    config = _config()
    config.method[field] = value
    with pytest.raises(ValueError, match=message):
        _method(config)


def test_eval_metrics_score_whole_groups_of_a_ragged_test_chunk():
    method = _method(_config(negative_group=4))
    images = _images(10)
    params, extra = method.init(jax.random.key(0), {"image": images})
    eval_fn = jax.jit(method.eval_metrics)
    got = eval_fn(params, extra, {"image": images})
    want = eval_fn(params, extra, {"image": images[:8]})
    np.testing.assert_allclose(got["loss"], want["loss"], rtol=1e-6)


def test_negative_group_must_divide_the_batch():
    method = _method(_config(negative_group=3))
    batch = {"image": _images()}
    params, extra = method.init(jax.random.key(0), batch)
    with pytest.raises(ValueError, match="method.negative_group=3 must divide"):
        jax.eval_shape(method.make_objective(extra), params, batch, jax.random.key(1))


@pytest.mark.slow  # A 4-device pmap compilation (~10 s on a loaded 2-core CPU).
def test_pmap_with_whole_batch_negatives_matches_the_global_loss():
    devices = 4
    steps = (1, 2)
    z = jax.random.normal(jax.random.key(0), (8, 3, 2, 5))
    preds = jax.random.normal(jax.random.key(1), (2, 8, 3, 2, 5))

    def loss_fn(preds, z, axis_name):
        arrays = shifted_targets(z, preds, steps)
        return grouped_cpc_loss(*arrays, group=0, temperature=1.0, axis_name=axis_name)

    want, want_grad = jax.value_and_grad(loss_fn)(preds, z, None)
    z_shards = z.reshape(devices, 2, 3, 2, 5)
    pred_shards = jnp.moveaxis(preds.reshape(2, devices, 2, 3, 2, 5), 1, 0)
    loss, grad = jax.pmap(
        jax.value_and_grad(functools.partial(loss_fn, axis_name="data")),
        axis_name="data",
        devices=jax.devices()[:devices],
    )(pred_shards, z_shards)
    np.testing.assert_allclose(loss, np.full(devices, want), rtol=1e-5, atol=1e-6)
    # Every device computes the global loss: its rows get `devices` equal
    # cotangents (the trainer's pmean divides them out again).
    got = np.moveaxis(np.asarray(grad), 0, 1).reshape(preds.shape)
    np.testing.assert_allclose(got / devices, want_grad, rtol=1e-4, atol=1e-6)


_Q = slice  # Quarter slices written out per grid: (rows, cols) of each.


@pytest.mark.parametrize(
    "rows,cols,quarters",
    [
        (6, 6, [(_Q(0, 3), _Q(0, 3)), (_Q(0, 3), _Q(3, 6)),
                (_Q(3, 6), _Q(0, 3)), (_Q(3, 6), _Q(3, 6))]),
        # Odd sizes: the top/left halves take the middle row/column.
        (5, 3, [(_Q(0, 3), _Q(0, 2)), (_Q(0, 3), _Q(2, 3)),
                (_Q(3, 5), _Q(0, 2)), (_Q(3, 5), _Q(2, 3))]),
        # One row: the missing bottom quarters repeat the top-left one.
        (1, 4, [(_Q(0, 1), _Q(0, 2)), (_Q(0, 1), _Q(2, 4)),
                (_Q(0, 1), _Q(0, 2)), (_Q(0, 1), _Q(0, 2))]),
    ],
)  # fmt: skip
def test_quadrant_means_pool_each_quarter_of_the_grid(rows, cols, quarters):
    z = np.random.default_rng(0).normal(size=(2, rows, cols, 3)).astype(np.float32)
    want = np.concatenate([z[:, r, c].mean(axis=(1, 2)) for r, c in quarters], -1)
    got = _quadrant_means(jnp.asarray(z))
    chex.assert_shape(got, (2, 12))
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
