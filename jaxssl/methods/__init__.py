"""Methods: one file per method, each registering a factory with ``register``."""

from jaxssl.methods import (
    autoencoder,  # noqa: F401  (each import registers its method)
    byol,  # noqa: F401
    classifier,  # noqa: F401
    simclr,  # noqa: F401
    stacked_autoencoder,  # noqa: F401
    vae,  # noqa: F401
)
from jaxssl.methods.base import (
    Method,
    MethodBase,
    build_method,
    method_names,
    register,
)

__all__ = ["Method", "MethodBase", "build_method", "method_names", "register"]
