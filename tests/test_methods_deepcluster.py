"""DeepCluster: pseudo-labels, head reset, re-clustering schedule, weights, config."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxssl.methods import build_method
from jaxssl.methods.deepcluster import DeepCluster, cluster_weights
from jaxssl.methods.rotation import ClassifierHead
from jaxssl.models import MLPEncoder
from tests.helpers import load_config

_N, _K, _BATCH = 48, 4, 8


def _method(every: int = 3) -> DeepCluster:
    # Four well-separated groups of synthetic 4x4 images.
    rng = np.random.default_rng(0)
    means = rng.integers(0, 256, (_K, 4, 4, 1))
    noise = rng.integers(-10, 11, (_N, 4, 4, 1))
    images = np.clip(means[np.arange(_N) % _K] + noise, 0, 255).astype(np.uint8)
    return DeepCluster(
        MLPEncoder((16,), 8),
        ClassifierHead((), _K),
        images,
        num_clusters=_K,
        recluster_every=every,
        pca_dim=4,
        kmeans_iters=10,
        kmeans_restarts=2,
    )


def _batch(method, start: int = 0):
    index = jnp.arange(start, start + _BATCH, dtype=jnp.int32)
    image = jnp.asarray(method.train_images[start : start + _BATCH]) / 255.0
    return {"image": image, "index": index}


def test_cluster_weights_balance_the_clusters():
    sizes = jnp.array([1, 3])
    weights = cluster_weights(jnp.array([0, 1, 1, 1]), sizes)
    np.testing.assert_allclose(weights, [2.0, 2 / 3, 2 / 3, 2 / 3], atol=1e-6)


def test_init_clusters_reclustering_resets_head_and_runs_on_schedule():
    method = _method()
    params, extra = method.init(jax.random.key(0), _batch(method))
    labels, sizes = np.asarray(extra["labels"]), np.asarray(extra["cluster_sizes"])
    chex.assert_shape(labels, (_N,))
    assert labels.min() >= 0 and labels.max() < _K
    np.testing.assert_array_equal(sizes, np.bincount(labels, minlength=_K))
    assert (sizes > 0).all()
    # The well-separated groups are recovered (up to renaming).
    groups = np.arange(_N) % _K
    for g in range(_K):
        assert len(set(labels[groups == g])) == 1

    # Objective: finite, with gradients for encoder and head.
    objective = method.make_objective(extra)
    grad_fn = jax.jit(jax.value_and_grad(objective, has_aux=True))
    (loss, aux), grads = grad_fn(params, _batch(method), jax.random.key(1))
    chex.assert_shape(loss, ())
    chex.assert_tree_all_finite((loss, aux["metrics"], grads))
    for part in ("encoder", "head"):
        assert max(float(jnp.abs(g).max()) for g in jax.tree.leaves(grads[part])) > 0

    # post_update re-clusters after every `recluster_every` updates only, and
    # the re-clustering makes the head in use a fresh init whatever
    # params["head"] has become.
    trained = jax.tree.map(lambda p: p + 1.0, params)
    post = jax.jit(method.post_update)
    same = post(trained, extra, jnp.int32(0))
    chex.assert_trees_all_equal(same["head_offset"], extra["head_offset"])
    due = post(trained, extra, jnp.int32(2))  # After the 3rd update.
    chex.assert_trees_all_close(
        method.head_in_use(trained, due),
        method.head.init(
            jax.random.split(jax.random.fold_in(jax.random.key(0), 2))[1],
            jnp.zeros((1, 8)),
        ),
        rtol=1e-5,
        atol=1e-6,
    )
    assert (np.asarray(due["cluster_sizes"]) > 0).all()
    np.testing.assert_array_equal(
        due["cluster_sizes"], np.bincount(np.asarray(due["labels"]), minlength=_K)
    )


def _config(**method):
    config = load_config("deepcluster_digits")
    for key, value in method.items():
        config.method[key] = value
    return config


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("num_clusters", 0, "method.num_clusters=0 must be an integer > 0"),
        ("num_clusters", 5000, "must not exceed the 1437 training examples"),
        ("pca_dim", 512, "method.pca_dim=512 exceeds model.latent_dim=128"),
        ("balance", "sample", "method.balance='sample' is not one of"),
        ("recluster_every", -1, "method.recluster_every=-1"),
    ],
)
def test_bad_config_values_name_the_field(field, value, message):
    with pytest.raises(ValueError, match=message):
        build_method(_config(**{field: value}), (8, 8, 1), 10)
