"""Tests for jaxssl.evaluation.fewshot: episode scoring with 95% intervals.

References: scipy's standard error of the mean, a hand-built episode, and a
NumPy nearest-centroid classifier on episodes of the real digits.
"""

import functools

import chex
import jax
import numpy as np
import pytest
from absl.testing import parameterized
from scipy import stats

from jaxssl import data
from jaxssl.data import to_float
from jaxssl.evaluation import fewshot as evaluate_module
from jaxssl.meta import (
    class_split_data,
    evaluate_episodes,
    make_episode_data,
    mean_confidence_interval,
    nearest_centroid_accuracy,
    sample_episodes,
    split_classes,
)

_accuracy_5way = functools.partial(nearest_centroid_accuracy, way=5)


def _np_nearest_centroid(episode, way):
    def flat(x):
        return np.float64(x).reshape(x.shape[0], -1) / 255.0

    support, query = flat(episode["support"]["x"]), flat(episode["query"]["x"])
    centroids = np.stack(
        [support[episode["support"]["y"] == c].mean(0) for c in range(way)]
    )
    dist = ((query[:, None] - centroids[None]) ** 2).sum(-1)
    return np.mean(np.argmin(dist, 1) == episode["query"]["y"])


class MeanConfidenceIntervalTest(parameterized.TestCase):
    def test_matches_scipy(self):
        values = np.random.default_rng(0).uniform(size=600)
        mean, half = mean_confidence_interval(values)
        np.testing.assert_allclose(mean, values.mean(), rtol=1e-12)
        np.testing.assert_allclose(half, 1.96 * stats.sem(values), rtol=1e-12)
        with self.assertRaisesRegex(ValueError, "values"):
            mean_confidence_interval([0.5])


class NearestCentroidTest(parameterized.TestCase):
    def test_hand_episode(self):
        # Class 0 pixels near 0, class 1 near 255; one query of each is right,
        # a third query (dark, labelled 1) is wrong: accuracy 2/3.
        support = np.array([[0], [10], [250], [240]], np.uint8).reshape(4, 1, 1, 1)
        query = np.array([[5], [245], [20]], np.uint8).reshape(3, 1, 1, 1)
        episode = {
            "support": {"x": support, "y": np.array([0, 0, 1, 1], np.int32)},
            "query": {"x": query, "y": np.array([0, 1, 1], np.int32)},
        }
        got = nearest_centroid_accuracy(episode, way=2)
        np.testing.assert_allclose(got, 2.0 / 3.0, atol=1e-6)
        # x -> 1 - x preserves distances: the same decisions.
        reflected = nearest_centroid_accuracy(
            episode, way=2, embed_fn=lambda x: 1.0 - x.reshape(x.shape[0], -1)
        )
        np.testing.assert_allclose(reflected, 2.0 / 3.0, atol=1e-6)
        # A constant embedding ties every class; argmax takes class 0 (1 of 3).
        collapsed = nearest_centroid_accuracy(
            episode, way=2, embed_fn=lambda x: 0.0 * x.reshape(x.shape[0], -1)
        )
        np.testing.assert_allclose(collapsed, 1.0 / 3.0, atol=1e-6)


class EvaluateEpisodesTest(parameterized.TestCase):
    def test_separable_classes_score_one(self):
        # Class c's images are all pixel value 50 * c (+ small jitter): nearest
        # centroid is right on every query of every episode.
        rs = np.random.default_rng(0)
        labels = np.repeat(np.arange(6), 10)
        x = (50 * labels + rs.integers(0, 5, size=60)).astype(np.uint8)
        episode_data = make_episode_data(x.reshape(60, 1, 1, 1), labels, range(6))
        mean, ci95, scores = evaluate_episodes(
            jax.random.key(0),
            episode_data,
            _accuracy_5way,
            way=5,
            shot=2,
            query=3,
            num_episodes=40,
            chunk=20,
        )
        chex.assert_shape(scores, (40,))
        self.assertEqual((mean, ci95), (1.0, 0.0))

    @pytest.mark.slow
    def test_digits_raw_pixels(self):
        digits = data.load_dataset("digits")
        novel = class_split_data(digits, split_classes(10, num_base=5))["novel"]
        mean, ci95, scores = evaluate_episodes(
            jax.random.key(0), novel, _accuracy_5way, way=5, shot=1, query=15
        )
        chex.assert_shape(scores, (600,))
        self.assertEqual((mean, ci95), mean_confidence_interval(scores))
        # Per-episode accuracies are multiples of 1/75.
        np.testing.assert_allclose(scores * 75, np.round(scores * 75), atol=1e-4)
        # Digits 5-9 from one example each: far above chance (0.2).
        self.assertGreater(mean - ci95, 0.6)
        self.assertLess(ci95, 0.02)
        again, _, _ = evaluate_episodes(
            jax.random.key(0), novel, _accuracy_5way, way=5, shot=1, query=15
        )
        self.assertEqual(again, mean)
        # The jitted scorer agrees with NumPy on sampled episodes.
        episodes = jax.device_get(
            jax.jit(
                functools.partial(sample_episodes, num_tasks=4, way=5, shot=1, query=15)
            )(jax.random.key(1), novel)
        )
        for t in range(4):
            episode = jax.tree.map(lambda v, t=t: v[t], episodes)
            np.testing.assert_allclose(
                jax.jit(_accuracy_5way)(episode),
                _np_nearest_centroid(episode, 5),
                atol=1e-6,
            )

    def test_errors(self):
        x = np.zeros((20, 1, 1, 1), np.uint8)
        y = np.repeat(np.arange(5), 4)
        episode_data = make_episode_data(x, y, classes=range(5))
        with self.assertRaisesRegex(ValueError, "chunk"):
            evaluate_episodes(
                jax.random.key(0),
                episode_data,
                _accuracy_5way,
                way=5,
                shot=1,
                query=1,
                num_episodes=601,
            )
        with self.assertRaisesRegex(ValueError, "score_args"):
            evaluate_episodes(
                jax.random.key(0),
                episode_data,
                _accuracy_5way,
                score_args=[1.0],
                way=5,
                shot=1,
                query=1,
                num_episodes=10,
                chunk=5,
            )


def _projected_accuracy(episode, weights):
    """Nearest centroid on a linear projection of the flattened pixels."""

    def embed(x):
        return x.reshape(x.shape[0], -1) @ weights

    return nearest_centroid_accuracy(episode, way=5, embed_fn=embed)


def _digits_novel_and_projections(seed):
    """Digits' novel classes and two random [64, 8] projections."""
    digits = data.load_dataset("digits")
    novel = class_split_data(digits, split_classes(10, num_base=5))["novel"]
    rs = np.random.default_rng(seed)
    return novel, [np.float32(rs.normal(size=(64, 8))) for _ in range(2)]


class ScoreArgsTest(parameterized.TestCase):
    def test_traced_arguments_match_closures_and_compile_once(self):
        novel, weights = _digits_novel_and_projections(0)
        kwargs = dict(way=5, shot=1, query=5, num_episodes=40, chunk=20)
        weights.append(np.zeros((64, 8), np.float32))  # every class ties: 1/5
        jitted = evaluate_module._score_episodes
        before = jitted._cache_size()
        means = []
        for w in weights:
            mean, _, scores = evaluate_episodes(
                jax.random.key(3), novel, _projected_accuracy, score_args=(w,), **kwargs
            )
            closure = functools.partial(_projected_accuracy, weights=w)
            ref_mean, _, ref_scores = evaluate_episodes(
                jax.random.key(3), novel, closure, **kwargs
            )
            np.testing.assert_allclose(scores, ref_scores, atol=1e-6)
            means.append(mean)
        # One compilation for the score_args calls, one per closure.
        self.assertEqual(jitted._cache_size() - before, 1 + len(weights))
        self.assertNotAlmostEqual(means[0], means[1], places=3)
        self.assertAlmostEqual(means[2], 0.2, places=6)


def _float_sampler(rng, data, **shape):
    """sample_episodes with images scaled to [0, 1] (as the episodic runner's)."""
    episodes = sample_episodes(rng, data, **shape)
    for part in ("support", "query"):
        episodes[part] = {**episodes[part], "x": to_float(episodes[part]["x"])}
    return episodes


class SampleFnTest(parameterized.TestCase):
    def test_sampler_with_score_args_matches_default_and_compiles_once(self):
        novel, weights = _digits_novel_and_projections(1)
        # Shapes no other test compiles: the cache count below is this test's.
        kwargs = dict(way=5, shot=2, query=4, num_episodes=30, chunk=10)
        jitted = evaluate_module._score_episodes
        before = jitted._cache_size()
        for w in weights:
            # The default sampler's uint8 episodes are scaled by the scorer.
            got, ref = (
                evaluate_episodes(
                    jax.random.key(4),
                    novel,
                    _projected_accuracy,
                    score_args=(w,),
                    sample_fn=sample_fn,
                    **kwargs,
                )
                for sample_fn in (_float_sampler, sample_episodes)
            )
            np.testing.assert_allclose(got[2], ref[2], atol=1e-6)
            self.assertEqual(got[:2], mean_confidence_interval(got[2]))
        # One compilation per sampler, whatever the weights.
        self.assertEqual(jitted._cache_size() - before, 2)
