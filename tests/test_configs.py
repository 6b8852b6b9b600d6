"""Every config in configs/ loads, validates and trains a few steps."""

import functools
import glob
import os
import re

import chex
import jax
import pytest

from jaxssl import episodic, train
from tests.helpers import CONFIG_DIR, load_config
from tests.test_episodic import shrink_fewshot

CONFIGS = sorted(
    os.path.splitext(os.path.basename(p))[0]
    for p in glob.glob(os.path.join(CONFIG_DIR, "*.py"))
)


def shrink(config):
    """Tiny shapes and 2 steps on digits: checks wiring, not results.

    Colour-only augmentations (CIFAR-10 configs) are dropped: digits are gray.
    """
    if "augment" in config.method:
        config.method.augment = re.sub(
            r"\|?(color_jitter|grayscale)\([^)]*\)", "", config.method.augment
        ).strip("|")
    config.input.dataset = "digits"
    config.input.data_dir = None
    config.input.batch_size = 16
    config.num_devices = 1
    config.train.total_steps = 2
    if "steps_per_layer" in config.method:  # Stacked AE: 1 step per phase.
        config.method.steps_per_layer = 1
        config.train.total_steps = len(config.model.hidden) + 2
    if "grid" in config.method:  # Jigsaw: 8x8 digits fit only a 2x2 grid.
        config.method.grid = 2
        config.method.num_permutations = min(config.method.num_permutations, 24)
    if config.method.name == "cpc":  # Fashion's 8x8 patches fill a digit.
        config.method.patch_size, config.method.patch_stride = 4, 2
        config.method.steps = (1, 2)
        config.method.negative_group = 0
    if "schedule" in config.optim and "warmup_steps" in config.optim.schedule:
        config.optim.schedule.warmup_steps = 1
    return config


@pytest.mark.parametrize("name", CONFIGS)
def test_config_runs_two_steps(name):
    """Digits configs train 2 steps; the others (Fashion-MNIST, CIFAR-10) are
    traced through init and one step (shapes and dtypes, no XLA compile): each
    derives from its digits twin, which runs the same method for real, and
    compiling ~20 more models would double the suite's time."""
    config = load_config(name)
    if episodic.is_episodic(config):
        return _trace_fewshot(shrink_fewshot(config))
    views = config.method.get("views", ())
    if config.method.name == "colorization" or any("lab" in v for v in views):
        pytest.skip("needs colour images; see the methods' TFDS mock CIFAR tests")
    config = shrink(config)
    exp = train.build_experiment(config)
    dp = exp.parallel
    rng_init, rng_train = jax.random.split(jax.random.key(config.seed))
    if not name.endswith("_digits") and config.parallel == "jit":
        state = jax.eval_shape(lambda: train.init_state(exp, rng_init))
        step_fn = train.compile_train_step(exp)
        new_state, metrics = jax.eval_shape(
            step_fn, state, train.place_data(exp), rng_train
        )
        chex.assert_trees_all_equal_shapes_and_dtypes(new_state, state)
        assert "loss" in metrics
        return
    state = dp.put_replicated(train.init_state(exp, rng_init))
    data = train.place_data(exp)
    step_fn = train.compile_train_step(exp)
    for _ in range(config.train.total_steps):
        state, metrics = step_fn(state, data, rng_train)
    chex.assert_tree_all_finite((state.params, metrics))
    assert int(state.step) == config.train.total_steps


def _trace_fewshot(config):
    """Few-shot configs build on digits and trace init and one step (no
    compile); tests/test_episodic.py trains the digits ones for real."""
    exp = episodic.build_experiment(config)
    state = jax.eval_shape(lambda: episodic.init_state(exp, jax.random.key(0)))
    step_fn = functools.partial(episodic.train_chunk, exp=exp, length=1)
    data = episodic._train_data(exp)
    new_state, metrics = jax.eval_shape(step_fn, state, jax.random.key(1), data)
    chex.assert_trees_all_equal_shapes_and_dtypes(new_state, state)
    chex.assert_shape(metrics["loss"], (1,))


def test_there_are_configs():
    assert "autoencoder_digits" in CONFIGS
