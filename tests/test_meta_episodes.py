"""Tests for jaxssl.meta.episodes: class splits, episode sampling, sinusoids.

Synthetic examples encode their class and index (``1000 * class + index``), so
every sampled example can be traced back to where it came from.
"""

import functools
import math
import os

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from absl.testing import parameterized

from jaxssl import data
from jaxssl.meta import (
    class_split_data,
    make_episode_data,
    maml_loss,
    sample_episode,
    sample_episodes,
    sample_sinusoid_tasks,
    split_classes,
)

FASHION_MNIST = "/usr/share/datasets/fashion-mnist"


_sample = jax.jit(
    sample_episodes, static_argnames=("num_tasks", "way", "shot", "query")
)


def _host_episodes(rng, episode_data, **shape):
    """Sample a batch of episodes (jitted) and bring it to the host as NumPy."""
    return jax.device_get(_sample(rng, episode_data, **shape))


def _coded(sizes):
    """Examples [N, 1] valued 1000 * class + index-in-class, and labels [N]."""
    labels = np.concatenate([np.full(n, c) for c, n in enumerate(sizes)])
    index = np.concatenate([np.arange(n) for n in sizes])
    order = np.random.default_rng(0).permutation(labels.shape[0])  # interleave
    return (1000 * labels + index)[order, None].astype(np.int32), labels[order]


def _decode(x):
    x = np.asarray(x)[..., 0]
    return x // 1000, x % 1000


class SplitClassesTest(parameterized.TestCase):
    def test_ordered_split(self):
        split = split_classes(10, num_base=5)
        self.assertEqual(split.base, (0, 1, 2, 3, 4))
        self.assertEqual(split.val, ())
        self.assertEqual(split.novel, (5, 6, 7, 8, 9))

    def test_seeded_split_is_a_reproducible_partition(self):
        split = split_classes(20, num_base=12, num_val=3, seed=1)
        self.assertEqual(split, split_classes(20, num_base=12, num_val=3, seed=1))
        self.assertNotEqual(split, split_classes(20, num_base=12, num_val=3, seed=2))
        self.assertEqual(
            (len(split.base), len(split.val), len(split.novel)), (12, 3, 5)
        )
        self.assertEqual(sorted(split.base + split.val + split.novel), list(range(20)))

    def test_errors(self):
        with self.assertRaisesRegex(ValueError, "num_base"):
            split_classes(5, num_base=5)
        with self.assertRaisesRegex(ValueError, "num_val"):
            split_classes(5, num_base=2, num_val=-1)


class SampleEpisodeTest(parameterized.TestCase):
    @parameterized.named_parameters(("one_shot", 5, 1, 3), ("five_shot", 3, 5, 2))
    def test_episode_structure(self, way, shot, query):
        x, y = _coded([30, 25, 40, 31, 28, 33])
        episode_data = make_episode_data(x, y, classes=(0, 2, 3, 4, 5))
        episode = jax.jit(
            functools.partial(sample_episode, way=way, shot=shot, query=query)
        )(jax.random.key(3), episode_data)
        chex.assert_shape(episode["support"]["x"], (way * shot, 1))
        chex.assert_shape(episode["query"]["x"], (way * query, 1))
        chex.assert_type(episode["support"]["y"], jnp.int32)
        np.testing.assert_array_equal(
            episode["support"]["y"], np.repeat(np.arange(way), shot)
        )
        np.testing.assert_array_equal(
            episode["query"]["y"], np.repeat(np.arange(way), query)
        )
        classes = np.asarray(episode["classes"])
        self.assertLen(set(classes.tolist()), way)
        self.assertTrue(set(classes.tolist()) <= {0, 2, 3, 4, 5})
        for part in ("support", "query"):
            cls, _ = _decode(episode[part]["x"])
            np.testing.assert_array_equal(cls, classes[np.asarray(episode[part]["y"])])
        # No example is used twice in one episode.
        codes = np.concatenate(
            [np.asarray(episode[p]["x"])[:, 0] for p in ("support", "query")]
        )
        self.assertLen(set(codes.tolist()), codes.shape[0])

    def test_padding_is_never_sampled(self):
        # Class 1 has 3 examples, the largest 50: shot + query = 3 takes all 3.
        x, y = _coded([50, 3, 20])
        episode_data = make_episode_data(x, y, classes=(0, 1, 2))
        self.assertEqual(episode_data.min_count, 3)
        np.testing.assert_array_equal(episode_data.counts, [50, 3, 20])
        episodes = _host_episodes(
            jax.random.key(0), episode_data, num_tasks=40, way=3, shot=2, query=1
        )
        for t in range(40):
            for part in ("support", "query"):
                cls, idx = _decode(episodes[part]["x"][t])
                np.testing.assert_array_equal(
                    cls, np.asarray(episodes["classes"][t])[episodes[part]["y"][t]]
                )
                self.assertTrue(np.all(idx < np.array([50, 3, 20])[cls]))
            small = np.flatnonzero(np.asarray(episodes["classes"][t]) == 1)[0]
            taken = [
                _decode(episodes[p]["x"][t])[1][
                    np.asarray(episodes[p]["y"][t]) == small
                ]
                for p in ("support", "query")
            ]
            self.assertEqual(sorted(np.concatenate(taken).tolist()), [0, 1, 2])

    def test_sampling_is_uniform(self):
        x, y = _coded([12] * 6)
        episode_data = make_episode_data(x, y, classes=range(6))
        episodes = _host_episodes(
            jax.random.key(1), episode_data, num_tasks=3000, way=2, shot=1, query=1
        )
        # Each class appears in way / C = 1/3 of the episodes.
        class_freq = np.bincount(np.asarray(episodes["classes"]).ravel(), minlength=6)
        np.testing.assert_allclose(class_freq / 3000, 1 / 3, atol=0.04)
        # Within a class, each of the 12 examples is equally likely to be drawn.
        cls, idx = _decode(episodes["support"]["x"].reshape(-1, 1))
        counts = np.bincount(cls * 12 + idx, minlength=72).reshape(6, 12)
        expected = class_freq[:, None] / 12
        chi2 = ((counts - expected) ** 2 / expected).sum()
        self.assertLess(chi2, 6 * 11 + 6 * math.sqrt(2 * 6 * 11))  # mean + 6 sd

    def test_determinism_and_no_recompiles(self):
        x, y = _coded([20] * 5)
        episode_data = make_episode_data(x, y, classes=range(5))

        @jax.jit
        @chex.assert_max_traces(n=1)
        def sample(rng, episode_data):
            return sample_episodes(
                rng, episode_data, num_tasks=4, way=5, shot=2, query=3
            )

        first = sample(jax.random.key(7), episode_data)
        chex.assert_trees_all_equal(first, sample(jax.random.key(7), episode_data))
        other = sample(jax.random.key(8), episode_data)
        self.assertFalse(np.array_equal(first["support"]["x"], other["support"]["x"]))
        # Tasks in one batch are independent draws, not copies.
        self.assertFalse(
            np.array_equal(first["support"]["x"][0], first["support"]["x"][1])
        )
        # New data with the same shapes reuses the compiled sampler.
        x2, y2 = _coded([20] * 5)
        sample(jax.random.key(9), make_episode_data(x2 + 1, y2, classes=range(5)))
        chex.assert_tree_shape_prefix(first, (4,))

    def test_batch_feeds_maml_loss(self):
        x, y = _coded([10] * 4)
        episode_data = make_episode_data(x.astype(np.float32), y, classes=range(4))
        tasks = _sample(
            jax.random.key(0), episode_data, num_tasks=3, way=4, shot=1, query=2
        )

        def loss_fn(params, batch):
            logits = batch["x"] / 1000.0 * params["w"][None] + params["b"][None]
            logp = jax.nn.log_softmax(logits)
            return -jnp.mean(jnp.take_along_axis(logp, batch["y"][:, None], axis=1))

        params = {"w": jnp.zeros(4), "b": jnp.zeros(4)}
        losses = jax.jit(
            lambda params, tasks: [
                maml_loss(loss_fn, params, tasks, 0.1, steps) for steps in (0, 3)
            ]
        )(params, tasks)
        chex.assert_shape(losses, [(), ()])
        np.testing.assert_allclose(losses[0], math.log(4), rtol=1e-6)
        self.assertLess(losses[1], losses[0] - 0.01)

    def test_errors(self):
        x, y = _coded([5, 9, 7])
        episode_data = make_episode_data(x, y, classes=(0, 1, 2))
        with self.assertRaisesRegex(ValueError, "way"):
            sample_episode(jax.random.key(0), episode_data, way=4, shot=1, query=1)
        with self.assertRaisesRegex(ValueError, "shot \\+ query"):
            sample_episode(jax.random.key(0), episode_data, way=2, shot=3, query=3)
        with self.assertRaisesRegex(ValueError, "shot"):
            sample_episode(jax.random.key(0), episode_data, way=2, shot=0, query=3)
        with self.assertRaisesRegex(ValueError, "num_tasks"):
            sample_episodes(
                jax.random.key(0), episode_data, num_tasks=0, way=2, shot=1, query=1
            )
        with self.assertRaisesRegex(ValueError, "no examples"):
            make_episode_data(x, y, classes=(0, 3))
        with self.assertRaisesRegex(ValueError, "distinct"):
            make_episode_data(x, y, classes=(0, 0))


class ClassSplitDataTest(parameterized.TestCase):
    def test_digits_parts_are_disjoint(self):
        digits = data.load_dataset("digits")
        parts = class_split_data(digits, split_classes(10, num_base=5, num_val=2))
        self.assertEqual(set(parts), {"base", "val", "novel"})
        self.assertEqual(parts["novel"].class_ids.tolist(), [7, 8, 9])
        total = sum(int(np.sum(p.counts)) for p in parts.values())
        self.assertEqual(total, 1797)  # train and test images together
        seen = {}
        for name, part in parts.items():
            episodes = _host_episodes(
                jax.random.key(0), part, num_tasks=20, way=2, shot=1, query=2
            )
            seen[name] = set(np.asarray(episodes["classes"]).ravel().tolist())
            self.assertTrue(seen[name] <= set(part.class_ids.tolist()))
            chex.assert_type(episodes["support"]["x"], jnp.uint8)
            chex.assert_shape(episodes["support"]["x"], (20, 2, 8, 8, 1))
        self.assertFalse(seen["base"] & seen["val"])
        self.assertFalse(seen["base"] & seen["novel"])
        self.assertFalse(seen["val"] & seen["novel"])

    def test_images_are_those_of_their_class(self):
        digits = data.load_dataset("digits")
        parts = class_split_data(digits, split_classes(10, num_base=5), images="test")
        self.assertNotIn("val", parts)
        episode = _host_episodes(
            jax.random.key(2), parts["novel"], num_tasks=1, way=5, shot=2, query=0
        )
        episode = jax.tree.map(lambda leaf: leaf[0], episode)
        flat_test = digits.test_images.reshape(digits.test_images.shape[0], -1)
        for image, label in zip(
            np.asarray(episode["support"]["x"]),
            np.asarray(episode["support"]["y"]),
            strict=True,
        ):
            matches = np.flatnonzero((flat_test == image.reshape(-1)).all(axis=1))
            self.assertTrue(matches.size)
            self.assertIn(int(episode["classes"][label]), digits.test_labels[matches])

    def test_errors(self):
        digits = data.load_dataset("digits")
        with self.assertRaisesRegex(ValueError, "images"):
            class_split_data(digits, split_classes(10, num_base=5), images="val")
        with self.assertRaisesRegex(ValueError, "overlap"):
            class_split_data(digits, split_classes(10, num_base=5)._replace(val=(1,)))

    @pytest.mark.slow
    def test_fashion_mnist_five_way_on_held_out_classes(self):
        if not os.path.isdir(FASHION_MNIST):
            pytest.skip("apt-get install dataset-fashion-mnist")
        fashion = data.load_dataset(f"idx:{FASHION_MNIST}")
        parts = class_split_data(fashion, split_classes(10, num_base=5))
        self.assertEqual(parts["base"].class_ids.tolist(), [0, 1, 2, 3, 4])
        np.testing.assert_array_equal(parts["novel"].counts, [7000] * 5)

        @jax.jit
        @chex.assert_max_traces(n=1)
        def sample(rng, episode_data):
            return sample_episodes(
                rng, episode_data, num_tasks=2, way=5, shot=5, query=15
            )

        # Base and novel classes have the same shapes: one compiled sampler.
        base = jax.device_get(sample(jax.random.key(0), parts["base"]))
        episodes = jax.device_get(sample(jax.random.key(0), parts["novel"]))
        chex.assert_shape(episodes["support"]["x"], (2, 25, 28, 28, 1))
        chex.assert_shape(episodes["query"]["x"], (2, 75, 28, 28, 1))
        for t in range(2):
            self.assertEqual(sorted(base["classes"][t].tolist()), [0, 1, 2, 3, 4])
            self.assertEqual(sorted(episodes["classes"][t].tolist()), [5, 6, 7, 8, 9])
            # Fashion-MNIST images of one class are distinct: no repeats.
            flat = episodes["support"]["x"][t].reshape(25, -1)
            self.assertLen(np.unique(flat, axis=0), 25)


class SinusoidTest(parameterized.TestCase):
    def test_family(self):
        tasks = jax.device_get(
            jax.jit(
                functools.partial(
                    sample_sinusoid_tasks, num_tasks=2000, shot=5, query=10
                )
            )(jax.random.key(0))
        )
        chex.assert_shape(tasks["support"]["x"], (2000, 5, 1))
        chex.assert_shape(tasks["query"]["y"], (2000, 10, 1))
        chex.assert_type(tasks["support"]["y"], jnp.float32)
        amp, phase = np.asarray(tasks["amplitude"]), np.asarray(tasks["phase"])
        self.assertTrue(0.1 <= amp.min() and amp.max() <= 5.0)
        self.assertTrue(0.0 <= phase.min() and phase.max() <= math.pi)
        np.testing.assert_allclose(amp.mean(), 2.55, atol=0.15)
        np.testing.assert_allclose(phase.mean(), math.pi / 2, atol=0.1)
        for part in ("support", "query"):
            x = np.float64(tasks[part]["x"])
            self.assertTrue(-5.0 <= x.min() and x.max() <= 5.0)
            want = amp[:, None, None] * np.sin(x - phase[:, None, None])
            np.testing.assert_allclose(tasks[part]["y"], want, rtol=1e-5, atol=1e-5)
        # Support and query inputs are independent draws.
        self.assertFalse(np.allclose(tasks["support"]["x"], tasks["query"]["x"][:, :5]))

    def test_frequency_range(self):
        tasks = jax.device_get(
            sample_sinusoid_tasks(
                jax.random.key(1), num_tasks=500, shot=3, query=4, frequency=(0.8, 1.2)
            )
        )
        omega = np.asarray(tasks["frequency"])
        self.assertTrue(0.8 <= omega.min() and omega.max() <= 1.2)
        self.assertGreater(omega.std(), 0.1)
        amp, phase = tasks["amplitude"], tasks["phase"]
        x = np.float64(tasks["query"]["x"])
        want = amp[:, None, None] * np.sin(
            omega[:, None, None] * x - phase[:, None, None]
        )
        np.testing.assert_allclose(tasks["query"]["y"], want, rtol=1e-4, atol=1e-4)
        # The default is the MAML paper's family: frequency 1.
        default = sample_sinusoid_tasks(jax.random.key(1), num_tasks=4, shot=1, query=1)
        np.testing.assert_array_equal(default["frequency"], np.ones(4, np.float32))

    def test_determinism(self):
        sample = jax.jit(
            functools.partial(sample_sinusoid_tasks, num_tasks=3, shot=4, query=2)
        )
        chex.assert_trees_all_equal(
            sample(jax.random.key(5)), sample(jax.random.key(5))
        )
        self.assertFalse(
            np.array_equal(
                sample(jax.random.key(5))["amplitude"],
                sample(jax.random.key(6))["amplitude"],
            )
        )

    def test_errors(self):
        with self.assertRaisesRegex(ValueError, "shot"):
            sample_sinusoid_tasks(jax.random.key(0), num_tasks=2, shot=0, query=1)
        with self.assertRaisesRegex(ValueError, "query"):
            sample_sinusoid_tasks(jax.random.key(0), num_tasks=2, shot=1, query=-1)
        with self.assertRaisesRegex(ValueError, "frequency"):
            sample_sinusoid_tasks(
                jax.random.key(0), num_tasks=2, shot=1, query=1, frequency=(2.0, 1.0)
            )


# --- rotation-augmented classes ----------------------------------------------

from jaxssl.meta import rotate_classes  # noqa: E402


class RotateClassesTest(parameterized.TestCase):
    def _images(self, num, height, width, channels=1):
        # Distinct values everywhere, so every rotation is a distinct image.
        size = num * height * width * channels
        return np.arange(size, dtype=np.int32).reshape(num, height, width, channels)

    def test_each_rotation_is_a_new_class(self):
        images = self._images(6, 4, 4, 2)
        labels = np.array([0, 0, 3, 3, 1, 7])
        rotated, new_labels = rotate_classes(images, labels)
        chex.assert_shape(rotated, (24, 4, 4, 2))
        self.assertEqual(new_labels.dtype, np.int32)
        self.assertEqual(rotated.dtype, images.dtype)
        for k in range(4):
            block = slice(6 * k, 6 * (k + 1))
            np.testing.assert_array_equal(
                rotated[block], np.rot90(images, k, axes=(1, 2))
            )
            np.testing.assert_array_equal(new_labels[block], 4 * labels + k)
        # C classes become 4C, and each new class holds its source's count.
        self.assertLen(np.unique(new_labels), 4 * len(np.unique(labels)))
        for new_class in np.unique(new_labels):
            self.assertEqual(
                np.sum(new_labels == new_class), np.sum(labels == new_class // 4)
            )
        # A quarter turn is counterclockwise: the top row becomes the left column.
        np.testing.assert_array_equal(rotated[6, :, 0, 0], images[0, 0, ::-1, 0])

    def test_subset_of_rotations_and_non_square_images(self):
        images = self._images(3, 2, 5)
        labels = np.array([2, 0, 1])
        rotated, new_labels = rotate_classes(images, labels, rotations=(0, 2))
        chex.assert_shape(rotated, (6, 2, 5, 1))
        np.testing.assert_array_equal(rotated[:3], images)
        np.testing.assert_array_equal(rotated[3:], images[:, ::-1, ::-1])
        np.testing.assert_array_equal(new_labels, [4, 0, 2, 5, 1, 3])
        # Three-dimensional arrays [N, H, W] work too.
        rotated, _ = rotate_classes(images[..., 0], labels, rotations=(2,))
        np.testing.assert_array_equal(rotated, images[:, ::-1, ::-1, 0])

    def test_split_then_rotate_keeps_rotations_on_one_side(self):
        dataset = data.load_dataset("digits")
        split = split_classes(10, num_base=6, seed=3)
        parts = {}
        for name in ("base", "novel"):
            keep = np.isin(dataset.train_labels, getattr(split, name))
            images, labels = rotate_classes(
                dataset.train_images[keep], dataset.train_labels[keep]
            )
            classes = [4 * c + k for c in getattr(split, name) for k in range(4)]
            self.assertCountEqual(np.unique(labels).tolist(), classes)
            parts[name] = make_episode_data(images, labels, classes)
        self.assertEqual(parts["base"].num_classes, 24)
        self.assertEqual(parts["novel"].num_classes, 16)
        episodes = _host_episodes(
            jax.random.key(0), parts["novel"], num_tasks=3, way=16, shot=2, query=3
        )
        self.assertTrue(set(np.unique(episodes["classes"] // 4)) <= set(split.novel))
        # A rotated class's examples are its source images, rotated.
        originals = {
            c: dataset.train_images[dataset.train_labels == c] for c in split.novel
        }
        x, y = episodes["support"]["x"][0], episodes["support"]["y"][0]
        for image, position in zip(x, y, strict=True):
            class_id = int(episodes["classes"][0][position])
            unrotated = np.rot90(image, -(class_id % 4), axes=(0, 1))
            self.assertTrue(
                np.any(np.all(originals[class_id // 4] == unrotated, axis=(1, 2, 3)))
            )

    @parameterized.named_parameters(
        ("empty", ()),
        ("repeated", (0, 1, 1)),
        ("out_of_range", (0, 4)),
        ("negative", (-1,)),
        ("float", (0.0, 1.0)),
        ("bool", (True,)),
    )
    def test_bad_rotations(self, rotations):
        with self.assertRaisesRegex(ValueError, r"rotations must be distinct"):
            rotate_classes(self._images(2, 3, 3), np.array([0, 1]), rotations=rotations)

    def test_errors(self):
        images = self._images(2, 3, 4)
        with self.assertRaisesRegex(ValueError, "square images"):
            rotate_classes(images, np.array([0, 1]))
        with self.assertRaisesRegex(ValueError, r"labels must be integers of shape"):
            rotate_classes(images, np.array([0, 1, 2]), rotations=(0, 2))
        with self.assertRaisesRegex(ValueError, r"labels must be integers of shape"):
            rotate_classes(images, np.array([0.0, 1.0]), rotations=(0, 2))
        with self.assertRaisesRegex(ValueError, ">= 0"):
            rotate_classes(images, np.array([0, -1]), rotations=(0, 2))
        with self.assertRaisesRegex(ValueError, r"images \[N, H, W"):
            rotate_classes(np.zeros((2, 3)), np.array([0, 1]))
