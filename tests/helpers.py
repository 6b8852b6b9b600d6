"""Shared test helpers: load a repo config and shrink it (flax-examples style)."""

import os

from jaxssl.config_utils import load_config_file

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
