"""Omniglot end to end: TFDS-prepared locally, loaded, rotated, episodes, ProtoNet.

The data set is prepared by TFDS's own omniglot builder from fabricated
archives in the real layout (see ``tests/omniglot_fixture.py``): all 1,623
characters of the 50 alphabets, 6 drawers each here (20 in the slow test).
"""

import functools
import io
import os
import zipfile

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxssl.data import load_dataset
from jaxssl.data.pipeline import to_float
from jaxssl.data.tfds_source import OMNIGLOT_NUM_BACKGROUND, OMNIGLOT_NUM_CLASSES
from jaxssl.losses import prototypical_loss
from jaxssl.meta import (
    evaluate_episodes,
    make_episode_data,
    nearest_centroid_accuracy,
    rotate_classes,
    sample_episodes,
    split_classes,
)
from jaxssl.models import Conv4
from tests.omniglot_fixture import (  # noqa: F401 (the omniglot_data_dir fixture)
    FIXTURE_DRAWERS,
    omniglot_data_dir_fixture,
    prepare_local_omniglot,
)

ROTATIONS = 4


def _load(data_dir):
    return load_dataset("tfds:omniglot", data_dir=data_dir, download=False)


def _check_dataset(data, drawers):
    assert data.image_shape == (28, 28, 1)
    assert data.train_images.dtype == np.uint8
    assert data.num_classes == OMNIGLOT_NUM_CLASSES == 1623
    # Background characters (TFDS train) are 0-963, evaluation ones 964-1622,
    # each with one image per drawer.
    np.testing.assert_array_equal(
        np.bincount(data.train_labels), [drawers] * OMNIGLOT_NUM_BACKGROUND
    )
    test_counts = np.bincount(data.test_labels, minlength=1623)
    assert not test_counts[:OMNIGLOT_NUM_BACKGROUND].any()
    np.testing.assert_array_equal(
        test_counts[OMNIGLOT_NUM_BACKGROUND:], [drawers] * (1623 - 964)
    )
    # Ink is high: the 0 background covers most pixels, strokes reach 255.
    for images in (data.train_images, data.test_images):
        assert np.median(images) == 0
        assert images.mean() < 50
        assert images.max() == 255


def test_unprepared_omniglot_says_how(tmp_path):
    pytest.importorskip("tensorflow")
    with pytest.raises(FileNotFoundError, match=r"tfds build omniglot --data_dir"):
        _load(str(tmp_path))


def _source_images(data_dir, label):
    """The 105x105 drawings of character ``label`` (0-based) from the archive."""
    name = "background" if label < OMNIGLOT_NUM_BACKGROUND else "evaluation"
    path = os.path.join(data_dir, "downloads", "manual", f"images_{name}.zip")
    from PIL import Image

    images = []
    with zipfile.ZipFile(path) as archive:
        for member in archive.namelist():
            if os.path.basename(member).startswith(f"{label + 1:04d}_"):
                with Image.open(io.BytesIO(archive.read(member))) as image:
                    assert image.mode == "1" and image.size == (105, 105)
                    images.append(np.asarray(image.convert("L")))
    return np.stack(images)


def test_load_omniglot_prepared_by_tfds(omniglot_data_dir):
    data = _load(omniglot_data_dir)
    _check_dataset(data, FIXTURE_DRAWERS)
    # Each image is its character's drawing, inverted and shrunk to 28x28:
    # it matches one of the archive's drawings of that character (PIL's box
    # filter is an area average too) far better than another character's.
    from PIL import Image

    def shrink(drawings):
        return np.stack(
            [
                255.0
                - np.asarray(
                    Image.fromarray(d).resize((28, 28), Image.Resampling.BOX),
                    np.float64,
                )
                for d in drawings
            ]
        )

    for split, label in (("train", 5), ("train", 900), ("test", 1500)):
        images = getattr(data, f"{split}_images")
        labels = getattr(data, f"{split}_labels")
        ours = images[labels == label][..., 0].astype(np.float64)
        same = shrink(_source_images(omniglot_data_dir, label))
        other = shrink(_source_images(omniglot_data_dir, label + 1))
        for image in ours:
            error = np.abs(same - image).mean(axis=(1, 2)).min()
            assert error < 4.0, (split, label, error)
            assert np.abs(other - image).mean(axis=(1, 2)).min() > 3 * error


def _rotated_part(data, classes):
    """Episode data of ``classes`` (both TFDS splits), each rotation a class."""
    images = np.concatenate([data.train_images, data.test_images])
    labels = np.concatenate([data.train_labels, data.test_labels])
    keep = np.isin(labels, classes)
    images, labels = rotate_classes(images[keep], labels[keep])
    rotated = [ROTATIONS * c + k for c in classes for k in range(ROTATIONS)]
    return make_episode_data(images, labels, rotated)


_sample = jax.jit(
    sample_episodes, static_argnames=("num_tasks", "way", "shot", "query")
)

_MODEL = Conv4(features=16, num_blocks=4, norm="transductive", conv_impl="lax")


def _embed_episode(params, episode):
    """Embeddings of an episode's support and query images (one BN batch)."""
    support, query = episode["support"], episode["query"]
    images = to_float(jnp.concatenate([support["x"], query["x"]]))
    embeddings = _MODEL.apply({"params": params}, images)
    num_support = support["x"].shape[0]
    return embeddings[:num_support], embeddings[num_support:]


def _episode_loss_accuracy(params, episode, way):
    support, query = _embed_episode(params, episode)
    return prototypical_loss(
        support, episode["support"]["y"], query, episode["query"]["y"], way
    )


@functools.lru_cache(maxsize=1)
def _maml_split_parts(data_dir):
    """MAML's split of the 1,623 characters (1,100 / 100 / 423, seeded
    shuffle), base and novel parts with rotation-augmented classes."""
    data = _load(data_dir)
    split = split_classes(data.num_classes, num_base=1100, num_val=100, seed=1)
    return split, _rotated_part(data, split.base), _rotated_part(data, split.novel)


def test_rotated_episodes(omniglot_data_dir):
    split, base, novel = _maml_split_parts(omniglot_data_dir)
    assert base.num_classes == 4400 and novel.num_classes == 4 * 423
    assert base.min_count == novel.min_count == FIXTURE_DRAWERS

    # 5- and 20-way, 1- and 5-shot episodes of novel characters (one
    # compilation per shape), and 20-way 5-shot of base ones.
    shapes = [(novel, split.novel, way, shot) for way in (5, 20) for shot in (1, 5)]
    for part, classes, way, shot in [*shapes, (base, split.base, 20, 5)]:
        query = FIXTURE_DRAWERS - shot
        episodes = jax.device_get(
            _sample(
                jax.random.key(way + shot),
                part,
                num_tasks=8,
                way=way,
                shot=shot,
                query=query,
            )
        )
        chex.assert_shape(episodes["support"]["x"], (8, way * shot, 28, 28, 1))
        chex.assert_shape(episodes["query"]["x"], (8, way * query, 28, 28, 1))
        chex.assert_shape(episodes["classes"], (8, way))
        assert episodes["support"]["x"].dtype == np.uint8
        characters = episodes["classes"] // ROTATIONS
        assert set(characters.ravel()) <= set(classes)
    # 8 x 20 classes drawn from 4,400 rotated ones include every rotation.
    rotations = np.asarray(episodes["classes"]) % ROTATIONS
    assert set(rotations.ravel()) == {0, 1, 2, 3}

    # The raw-pixel baseline on 5-way 1-shot novel episodes beats chance (0.2).
    accuracy, ci95, scores = evaluate_episodes(
        jax.random.key(0),
        novel,
        functools.partial(nearest_centroid_accuracy, way=5),
        way=5,
        shot=1,
        query=5,
        num_episodes=40,
        chunk=20,
    )
    chex.assert_shape(scores, (40,))
    assert accuracy > 0.3 and 0.0 < ci95 < 0.2, (accuracy, ci95)


def test_protonet_end_to_end(omniglot_data_dir):
    """ProtoNet on Omniglot: a few Adam steps of 5-way 1-shot episodes of the
    rotated base classes, then 5-way 1-shot evaluation on novel episodes."""
    _, base, novel = _maml_split_parts(omniglot_data_dir)
    way, shot, query = 5, 1, 5
    tx = optax.adam(3e-3)
    params = _MODEL.init(jax.random.key(0), jnp.zeros((2, 28, 28, 1)))["params"]
    opt_state = tx.init(params)

    def tasks_loss(params, episodes):
        loss_fn = functools.partial(_episode_loss_accuracy, params, way=way)
        return jax.vmap(loss_fn)(episodes)[0].mean()

    @jax.jit
    def step(params, opt_state, rng, data):
        episodes = sample_episodes(
            rng, data, num_tasks=4, way=way, shot=shot, query=query
        )
        loss, grads = jax.value_and_grad(tasks_loss)(params, episodes)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    losses = []
    for i in range(15):
        rng = jax.random.key(100 + i)
        params, opt_state, loss = step(params, opt_state, rng, base)
        losses.append(float(loss))
    accuracy, ci95, scores = evaluate_episodes(
        jax.random.key(7),
        novel,
        lambda episode: _episode_loss_accuracy(params, episode, way)[1],
        way=way,
        shot=shot,
        query=query,
        num_episodes=40,
        chunk=20,
    )
    print(
        f"ProtoNet 5-way 1-shot: losses {np.round(losses, 3)}, "
        f"novel accuracy {accuracy:.3f} +- {ci95:.3f}"
    )
    assert np.all(np.isfinite(losses)), losses
    chex.assert_shape(scores, (40,))
    assert 0.0 <= ci95 < 0.2
    # Chance is 0.2; the fabricated characters are easy to tell apart.
    assert accuracy > 0.4, (accuracy, losses)
    assert np.mean(losses[-5:]) < np.mean(losses[:5]), losses


@pytest.mark.slow
def test_full_size_omniglot_with_tfds_extraction(tmp_path):
    """The real size (20 drawers: 32,460 images), TFDS unzipping the archives.

    About 2-3 minutes on 2 CPU cores. Run with
    ``pytest -m slow tests/test_data_omniglot.py``.
    """
    pytest.importorskip("tensorflow")
    data_dir = prepare_local_omniglot(
        str(tmp_path), num_drawers=20, seed=1, tfds_extracts=True
    )
    data = _load(data_dir)
    assert (data.train_images.shape[0], data.test_images.shape[0]) == (19280, 13180)
    _check_dataset(data, 20)
    split = split_classes(data.num_classes, num_base=OMNIGLOT_NUM_BACKGROUND)
    novel = _rotated_part(data, split.novel)
    mean, ci95, _ = evaluate_episodes(
        jax.random.key(0),
        novel,
        functools.partial(nearest_centroid_accuracy, way=20),
        way=20,
        shot=5,
        query=15,
        num_episodes=100,
        chunk=50,
    )
    assert 0.05 < mean <= 1.0 and ci95 < 0.1
