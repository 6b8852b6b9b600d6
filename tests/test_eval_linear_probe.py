"""Tests for jaxssl.evaluation.linear_probe on real data (sklearn's digits)."""

import functools

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from jaxssl.evaluation import fit_linear_classifier, linear_probe
from jaxssl.evaluation.linear_probe import _stratified_split


@functools.cache
def _digits():
    """A seeded, stratified 80/20 split of the 1,797 real 8x8 digits."""
    images, labels = load_digits(return_X_y=True)
    return train_test_split(
        images.astype(np.float32),
        labels.astype(np.int32),
        test_size=0.2,
        random_state=0,
        stratify=labels,
    )


def _predict(features, params, index):
    """NumPy predictions of the index-th classifier in a stacked params dict."""
    weights, biases = np.asarray(params["w"][index]), np.asarray(params["b"][index])
    return np.argmax(features @ weights + biases[None, :], axis=-1)


def _objective(features, labels, params, index, weight_decay):
    """Float64 NumPy reference of the regularised objective being minimised."""
    weights = np.asarray(params["w"][index], np.float64)
    biases = np.asarray(params["b"][index], np.float64)
    logits = features.astype(np.float64) @ weights + biases[None, :]
    logits -= logits.max(axis=1, keepdims=True)
    log_probs = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    cross_entropy = -np.mean(log_probs[np.arange(labels.shape[0]), labels])
    return cross_entropy + 0.5 * weight_decay * np.sum(weights**2)


@functools.cache
def _digits_probe():
    train_x, test_x, train_y, test_y = _digits()
    return linear_probe(train_x, train_y, test_x, test_y, num_classes=10)


def test_digits_accuracy_is_high_and_matches_sklearn():
    train_x, test_x, train_y, test_y = _digits()
    result = _digits_probe()
    assert result["test_accuracy"] >= 0.93, result
    assert result["val_accuracy"] >= 0.9, result
    assert result["train_accuracy"] >= result["test_accuracy"] - 0.02, result
    assert result["best_weight_decay"] in (0.0, 1e-4, 1e-3, 1e-2, 1e-1)
    assert result["steps"]["final"] < 500, "final fit did not converge"

    scaler = StandardScaler().fit(train_x)
    train_z, test_z = scaler.transform(train_x), scaler.transform(test_x)
    sklearn_model = LogisticRegression(C=1.0, max_iter=1000).fit(train_z, train_y)
    sklearn_accuracy = sklearn_model.score(test_z, test_y)
    assert abs(result["test_accuracy"] - sklearn_accuracy) <= 0.03, (
        result["test_accuracy"],
        sklearn_accuracy,
    )

    # At sklearn's own regularisation the two optima predict alike: sklearn
    # minimises C * sum(CE) + ||W||^2 / 2 = C N (mean CE + ||W||^2 / (2 C N)).
    params, steps = fit_linear_classifier(
        train_z, train_y, num_classes=10, weight_decays=(1.0 / train_y.shape[0],)
    )
    assert int(steps[0]) < 500
    agreement = np.mean(_predict(test_z, params, 0) == sklearn_model.predict(test_z))
    assert agreement >= 0.99, agreement


def test_vmapped_decays_match_one_decay_alone():
    train_x, _, train_y, _ = _digits()
    scaler = StandardScaler().fit(train_x)
    features = scaler.transform(train_x).astype(np.float32)
    fit_idx, val_idx = _stratified_split(train_y, 0.2, 0)  # Shapes of the probe.
    decays = (0.0, 1e-4, 1e-3, 1e-2, 1e-1)
    # A tight tolerance: both runs must reach the (unique) optimum, whatever
    # rounding differences batching brings along the way.
    fit = functools.partial(
        fit_linear_classifier, features[fit_idx], train_y[fit_idx], num_classes=10
    )
    together, _ = fit(weight_decays=decays, tol=1e-6)
    alone, _ = fit(weight_decays=(1e-2,), tol=1e-6)
    index = decays.index(1e-2)
    objective = functools.partial(_objective, features[fit_idx], train_y[fit_idx])
    np.testing.assert_allclose(
        objective(together, index, 1e-2), objective(alone, 0, 1e-2), rtol=1e-6
    )
    # Same optimum up to float32 optimisation accuracy (the bias is the
    # flattest direction).
    np.testing.assert_allclose(together["w"][index], alone["w"][0], atol=2e-3)
    np.testing.assert_allclose(together["b"][index], alone["b"][0], atol=5e-3)
    np.testing.assert_array_equal(
        _predict(features[val_idx], together, index),
        _predict(features[val_idx], alone, 0),
    )


def test_deterministic():
    train_x, test_x, train_y, test_y = _digits()
    again = linear_probe(train_x, train_y, test_x, test_y, num_classes=10)
    assert again == _digits_probe()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(train_labels=np.zeros(5, np.int32)), "train_labels"),
        (dict(test_features=np.zeros((20, 3), np.float32)), "test_features"),
        (dict(train_features=np.zeros((30,), np.float32)), "train_features"),
        (dict(test_labels=np.full(20, 7, np.int32)), "test_labels"),
        (dict(val_fraction=1.0), "val_fraction"),
    ],
)
def test_validates_arguments(kwargs, match):
    rng = np.random.default_rng(0)
    args = dict(
        train_features=rng.normal(size=(30, 4)).astype(np.float32),
        train_labels=np.arange(30, dtype=np.int32) % 3,
        test_features=rng.normal(size=(20, 4)).astype(np.float32),
        test_labels=np.arange(20, dtype=np.int32) % 3,
    )
    args.update(kwargs)
    val_fraction = args.pop("val_fraction", 0.2)
    with pytest.raises(ValueError, match=match):
        linear_probe(**args, num_classes=3, val_fraction=val_fraction)


def test_rejects_negative_weight_decay():
    with pytest.raises(ValueError, match="weight_decays"):
        fit_linear_classifier(
            np.zeros((4, 2), np.float32),
            np.array([0, 1, 0, 1]),
            num_classes=2,
            weight_decays=(-1.0,),
        )
