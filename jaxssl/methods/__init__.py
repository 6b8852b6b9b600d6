"""Methods: one file per method, each registering a factory with ``register``.

Every module in this package is imported here, so adding a method is one new
file that calls ``register`` (plus a config); nothing else changes.
"""

import importlib
import pkgutil

from jaxssl.methods.base import (
    Method,
    MethodBase,
    build_method,
    method_names,
    register,
)

for _module in sorted(m.name for m in pkgutil.iter_modules(__path__)):
    importlib.import_module(f"{__name__}.{_module}")  # Registers its method(s).

__all__ = ["Method", "MethodBase", "build_method", "method_names", "register"]
