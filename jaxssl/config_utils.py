"""Config files: loading ``get_config()`` files and command-line overrides.

Configs are Python files returning an ``ml_collections.ConfigDict``. A config
may start from another one in the same folder with ``load_sibling`` and change
a few fields, so variants stay one short file each.
"""

from __future__ import annotations

import ast
import importlib.util
import os
from collections.abc import Sequence
from typing import Any

import ml_collections


class UsageError(ValueError):
    """A bad command line or config value; reported in one line, exit 2."""


def load_config_file(path: str) -> ml_collections.ConfigDict:
    """Import ``path`` and call its ``get_config()``."""
    if not os.path.isfile(path):
        raise UsageError(f"config file {path!r} not found (see `jaxssl list`)")
    name = os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not hasattr(module, "get_config"):
        raise UsageError(f"config file {path!r} defines no get_config()")
    config = module.get_config()
    if not isinstance(config, ml_collections.ConfigDict):
        raise UsageError(
            f"{path}: get_config() must return an ml_collections.ConfigDict"
        )
    return config


def load_sibling(config_file: str, name: str) -> ml_collections.ConfigDict:
    """Load the config ``name`` from the folder of ``config_file`` (``__file__``)."""
    folder = os.path.dirname(os.path.abspath(config_file))
    return load_config_file(os.path.join(folder, f"{name}.py"))


def _parse_value(text: str) -> Any:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text  # A bare word is a string: --config.optim.name=sgd


def _type_name(value: Any) -> str:
    return type(value).__name__


def _coerce(path: str, old: Any, new: Any) -> Any:
    """Give ``new`` the type of the field's current value, or explain why not."""
    if old is None or new is None:
        return new
    if isinstance(old, bool):
        if isinstance(new, bool):
            return new
    elif isinstance(old, int):
        if isinstance(new, int) and not isinstance(new, bool):
            return new
    elif isinstance(old, float):
        if isinstance(new, (int, float)) and not isinstance(new, bool):
            return float(new)
    elif isinstance(old, str):
        if isinstance(new, str):
            return new
        return str(new) if isinstance(new, (int, float)) else _bad(path, old, new)
    elif isinstance(old, (tuple, list)):
        if isinstance(new, (tuple, list)):
            return type(old)(new)
        if isinstance(new, (int, float, str)):
            return type(old)((new,))
    else:
        return new
    return _bad(path, old, new)


def _bad(path: str, old: Any, new: Any) -> Any:
    raise UsageError(
        f"config.{path}={new!r} has type {_type_name(new)}; expected "
        f"{_type_name(old)} (like the default {old!r})"
    )


def apply_overrides(
    config: ml_collections.ConfigDict, overrides: Sequence[str]
) -> None:
    """Apply ``config.a.b=value`` strings; unknown fields and types are errors."""
    for item in overrides:
        if "=" not in item:
            raise UsageError(f"override {item!r} must look like --config.field=value")
        path, text = item.split("=", 1)
        path = path.removeprefix("--").removeprefix("config.")
        parts = path.split(".")
        node = config
        for depth, part in enumerate(parts):
            where = ".".join(parts[:depth]) or "config"
            if not isinstance(node, ml_collections.ConfigDict) or part not in node:
                allowed = (
                    ", ".join(sorted(node.keys())) if hasattr(node, "keys") else "-"
                )
                raise UsageError(
                    f"unknown config field {path!r}: {where} has fields: {allowed}"
                )
            if depth < len(parts) - 1:
                node = node[part]
        old = node[parts[-1]]
        if isinstance(old, ml_collections.ConfigDict):
            raise UsageError(f"config.{path} is a section; set one of its fields")
        value = _coerce(path, old, _parse_value(text))
        try:
            node[parts[-1]] = value
        except TypeError as e:
            raise UsageError(f"config.{path}={value!r}: {e}") from None
