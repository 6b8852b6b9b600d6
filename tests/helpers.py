"""Shared test helpers: load a repo config and shrink it (flax-examples style)."""

import functools
import os

import jax
import jax.numpy as jnp
import optax

from jaxssl import train
from jaxssl.config_utils import load_config_file
from jaxssl.parallel import make_data_parallel

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG_DIR = os.path.join(ROOT, "configs")


def load_config(name: str):
    return load_config_file(os.path.join(CONFIG_DIR, f"{name}.py"))


def small_config(total_steps: int = 20, ckpt_every: int = 0, **overrides):
    """The default digits autoencoder, shrunk to run in seconds."""
    config = load_config("autoencoder_digits")
    config.model.hidden = (32,)
    config.model.latent_dim = 8
    config.input.batch_size = 64
    config.train.total_steps = total_steps
    config.train.log_every = 10
    config.train.ckpt_every = ckpt_every
    config.evals.every = 0
    config.evals.embedding_plot = False
    config.optim.schedule.warmup_steps = 2
    for key, value in overrides.items():
        section, field = key.split("__")
        config[section][field] = value
    return config


def _host_fed_step(state, data, rng, *, parallel, method, tx):
    """The trainer's update on a given global batch (no on-device sampling)."""
    batch = parallel.local_batch(data)
    return train.apply_update(
        state, batch, rng, parallel=parallel, method=method, tx=tx
    )


def run_parallel(method, initial, batches, parallel: str, num_devices: int):
    """Trainer updates (SGD 0.5) of ``method`` from ``initial = (params,
    extra)`` on the given global ``batches``, under ``jaxssl.parallel``.

    Returns:
      (the DataParallel, the final state on the host).
    """
    dp = make_data_parallel(parallel, num_devices)
    tx = optax.sgd(0.5)
    step_fn = dp.compile_step(functools.partial(_host_fed_step, method=method, tx=tx))
    params, extra = initial
    state = train.TrainState(jnp.zeros((), jnp.int32), params, tx.init(params), extra)
    state = dp.put_replicated(state)
    for batch in batches:
        state, _ = step_fn(state, dp.put_replicated(batch), jax.random.key(7))
    return dp, jax.device_get(state)
