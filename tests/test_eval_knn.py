"""Tests for jaxssl.evaluation.knn against a brute-force NumPy reference."""

import functools

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from jaxssl.evaluation import knn_accuracy, knn_predict


def _reference_predict(train_x, train_y, test_x, num_classes, k, temperature):
    """Brute force in float64: every similarity, a stable sort, the Wu et al. vote."""
    train_x = np.asarray(train_x, np.float64)
    test_x = np.asarray(test_x, np.float64)
    train_x = train_x / np.linalg.norm(train_x, axis=1, keepdims=True)
    test_x = test_x / np.linalg.norm(test_x, axis=1, keepdims=True)
    predictions = []
    for query in test_x:
        sims = train_x @ query
        neighbours = np.argsort(-sims, kind="stable")[:k]
        scores = np.zeros(num_classes)
        for index in neighbours:
            scores[train_y[index]] += np.exp(sims[index] / temperature)
        predictions.append(int(np.argmax(scores)))
    return np.array(predictions)


def _random_problem(seed, num_train=300, num_test=70, dim=16, num_classes=5):
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(num_classes, dim))
    train_y = rng.integers(0, num_classes, num_train)
    test_y = rng.integers(0, num_classes, num_test)
    train_x = centers[train_y] + 1.5 * rng.normal(size=(num_train, dim))
    test_x = centers[test_y] + 1.5 * rng.normal(size=(num_test, dim))
    return (
        train_x.astype(np.float32),
        train_y.astype(np.int32),
        test_x.astype(np.float32),
        test_y.astype(np.int32),
    )


@functools.cache
def _digits():
    images, labels = load_digits(return_X_y=True)
    train_x, test_x, train_y, test_y = train_test_split(
        images.astype(np.float32),
        labels,
        test_size=0.2,
        random_state=0,
        stratify=labels,
    )
    return train_x, train_y.astype(np.int32), test_x, test_y.astype(np.int32)


@pytest.mark.parametrize(("seed", "k", "temperature"), [(0, 20, 0.07), (1, 5, 0.5)])
def test_matches_reference_on_random_data(seed, k, temperature):
    train_x, train_y, test_x, test_y = _random_problem(seed)
    got = knn_predict(
        train_x, train_y, test_x, num_classes=5, k=k, temperature=temperature
    )
    want = _reference_predict(train_x, train_y, test_x, 5, k, temperature)
    np.testing.assert_array_equal(np.asarray(got), want)
    accuracy = knn_accuracy(
        train_x, train_y, test_x, test_y, num_classes=5, k=k, temperature=temperature
    )
    assert accuracy == np.mean(want == test_y)
    assert accuracy > 0.5  # Clustered data: well above the 0.2 of chance.


def test_matches_reference_on_digits():
    train_x, train_y, test_x, test_y = _digits()
    got = np.asarray(knn_predict(train_x, train_y, test_x, num_classes=10))
    want = _reference_predict(train_x, train_y, test_x, 10, 20, 0.07)
    np.testing.assert_array_equal(got, want)
    assert np.mean(got == test_y) >= 0.95


def test_chunked_equals_unchunked():
    train_x, train_y, test_x, _ = _digits()
    whole = knn_predict(train_x, train_y, test_x, num_classes=10, batch_size=10_000)
    chunked = knn_predict(train_x, train_y, test_x, num_classes=10, batch_size=37)
    np.testing.assert_array_equal(np.asarray(chunked), np.asarray(whole))
    assert chunked.shape == (test_x.shape[0],)


def test_k1_is_nearest_neighbour_by_cosine():
    train_x, train_y, test_x, _ = _random_problem(2)
    got = knn_predict(train_x, train_y, test_x, num_classes=5, k=1, batch_size=16)
    unit_train = train_x / np.linalg.norm(train_x, axis=1, keepdims=True)
    nearest = np.argmax(test_x @ unit_train.T, axis=1)
    np.testing.assert_array_equal(np.asarray(got), train_y[nearest])


def test_small_temperature_stays_finite():
    """exp(1 / 0.001) overflows float32; the row-max shift must prevent it."""
    train_x, train_y, test_x, _ = _random_problem(3)
    got = knn_predict(train_x, train_y, test_x, num_classes=5, temperature=1e-3)
    # With so sharp a vote the nearest neighbour decides.
    want = knn_predict(train_x, train_y, test_x, num_classes=5, k=1)
    np.testing.assert_array_equal(np.asarray(got), np.asarray(want))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(train_labels=np.zeros(3, np.int32)), "train_labels"),
        (dict(test_features=np.zeros((4, 7), np.float32)), "test_features"),
        (dict(k=0), "k must"),
        (dict(k=11), "k must"),
        (dict(temperature=0.0), "temperature"),
        (dict(batch_size=0), "batch_size"),
    ],
)
def test_validates_arguments(kwargs, match):
    args = dict(
        train_features=np.ones((10, 3), np.float32),
        train_labels=np.zeros(10, np.int32),
        test_features=np.ones((4, 3), np.float32),
    )
    args = {"k": 5, **args, **kwargs}
    with pytest.raises(ValueError, match=match):
        knn_predict(**args, num_classes=2)


def test_accuracy_validates_test_labels():
    with pytest.raises(ValueError, match="test_labels"):
        knn_accuracy(
            np.ones((10, 3), np.float32),
            np.zeros(10, np.int32),
            np.ones((4, 3), np.float32),
            np.zeros(5, np.int32),
            num_classes=2,
        )
