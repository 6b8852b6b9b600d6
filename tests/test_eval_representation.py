"""Tests for jaxssl.evaluation.representation on sklearn's real digits."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from jaxssl.evaluation import (
    compute_features,
    evaluate_representation,
    raw_pixel_baseline,
)


@functools.cache
def _digit_images():
    """The digits split of test_eval_linear_probe, as [N, 8, 8, 1] images."""
    images, labels = load_digits(return_X_y=True)
    train_x, test_x, train_y, test_y = train_test_split(
        images.astype(np.float32),
        labels.astype(np.int32),
        test_size=0.2,
        random_state=0,
        stratify=labels,
    )
    return train_x.reshape(-1, 8, 8, 1), train_y, test_x.reshape(-1, 8, 8, 1), test_y


def _flatten(images):
    return jnp.reshape(images, (images.shape[0], -1))


def test_compute_features_pads_the_last_batch():
    train_x = _digit_images()[0]
    projection = jax.random.normal(jax.random.key(0), (64, 5))
    encode_fn = lambda images: _flatten(images) @ projection  # noqa: E731
    features = compute_features(encode_fn, train_x, batch_size=100)
    assert features.shape == (train_x.shape[0], 5)
    assert features.dtype == np.float32
    np.testing.assert_allclose(
        features, np.asarray(encode_fn(jnp.asarray(train_x))), rtol=1e-5, atol=1e-5
    )
    with pytest.raises(ValueError, match="batch_size"):
        compute_features(encode_fn, train_x, batch_size=0)


def test_identity_encoder_equals_raw_pixel_baseline():
    train_x, train_y, test_x, test_y = _digit_images()
    raw = raw_pixel_baseline(train_x, train_y, test_x, test_y, 10)
    assert set(raw) == {"linear_probe_raw_accuracy", "knn_raw_accuracy"}
    assert raw["linear_probe_raw_accuracy"] >= 0.93, raw
    assert raw["knn_raw_accuracy"] >= 0.95, raw

    scores = evaluate_representation(
        _flatten, train_x, train_y, test_x, test_y, num_classes=10, batch_size=512
    )
    assert scores == {
        "linear_probe_accuracy": raw["linear_probe_raw_accuracy"],
        "knn_accuracy": raw["knn_raw_accuracy"],
    }
