"""Test-wide JAX settings: 8 fake CPU devices and strict promotion rules.

The device count must be set before any backend is initialised, so it happens
at import time of this conftest (the equinox pattern).
"""

import os

from jaxssl.cli import FAKE_DEVICE_XLA_FLAGS  # Imports no JAX.

# Fake 8 devices; keep their collectives from being aborted on a loaded 2-core
# machine (see jaxssl/cli.py).
os.environ["XLA_FLAGS"] = " ".join(
    [
        os.environ.get("XLA_FLAGS", ""),
        "--xla_force_host_platform_device_count=8",
        *FAKE_DEVICE_XLA_FLAGS,
    ]
)

import jax  # noqa: E402

jax.config.update("jax_num_cpu_devices", 8)
jax.config.update("jax_numpy_rank_promotion", "raise")
