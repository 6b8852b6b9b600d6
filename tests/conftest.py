"""Test-wide JAX settings: 8 fake CPU devices and strict promotion rules.

The device count must be set before any backend is initialised, so it happens
at import time of this conftest (the equinox pattern).
"""

import os

# Single-threaded Eigen per fake device: with 8 fake devices on 2 cores, XLA:CPU
# collectives otherwise deadlock in their rendezvous (see jaxssl/cli.py).
os.environ["XLA_FLAGS"] = (
    os.environ.get("XLA_FLAGS", "")
    + " --xla_force_host_platform_device_count=8 --xla_cpu_multi_thread_eigen=false"
)

import jax  # noqa: E402

jax.config.update("jax_num_cpu_devices", 8)
jax.config.update("jax_numpy_rank_promotion", "raise")
