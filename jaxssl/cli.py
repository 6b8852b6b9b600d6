"""The ``jaxssl`` command line: parses arguments and calls the library.

  jaxssl train CONFIG [--workdir DIR] [--config.a.b=value ...]
  jaxssl eval WORKDIR
  jaxssl list

User errors (unknown config fields, wrong types, out-of-range values, missing
data) print one line naming the field and what is allowed, and exit with 2.
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import ml_collections

EXIT_USAGE = 2


class UsageError(ValueError):
    """A bad command line or config value; reported in one line, exit 2."""


# --------------------------------------------------------------------------
# Configs


def load_config_file(path: str) -> ml_collections.ConfigDict:
    """Import ``path`` and call its ``get_config()``."""
    if not os.path.isfile(path):
        raise UsageError(f"config file {path!r} not found (see `jaxssl list`)")
    spec = importlib.util.spec_from_file_location(Path(path).stem, path)
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


# --------------------------------------------------------------------------
# Commands


def _cmd_train(args: argparse.Namespace, overrides: list[str]) -> int:
    from jaxssl import train

    config = load_config_file(args.config)
    apply_overrides(config, overrides)
    workdir = args.workdir or os.path.join("runs", Path(args.config).stem)
    try:
        exp = train.build_experiment(config)
    except (ValueError, FileNotFoundError) as e:
        raise UsageError(str(e)) from None
    config.lock()
    try:
        summary = train.train_and_evaluate(
            config, workdir, exp=exp, progress=args.progress
        )
    except train.NonFiniteLossError as e:
        print(f"jaxssl: error: {e}", file=sys.stderr)
        return 1
    _print_summary(summary, workdir)
    return 0


def _print_summary(summary: dict[str, Any], workdir: str) -> None:
    keys = [k for k in summary if k.endswith("accuracy") or k.startswith("test_")]
    print(
        f"\n{summary['method']} on {summary['dataset']}: {summary['steps']} steps, "
        f"{summary['steps_per_sec']:.1f} steps/s, {summary['wall_s']:.0f} s"
    )
    for key in sorted(keys):
        print(f"  {key:32s} {summary[key]:.4f}")
    print(f"summary: {os.path.join(workdir, 'summary.json')}")


def _cmd_eval(args: argparse.Namespace) -> int:
    from jaxssl import train

    try:
        results = train.evaluate_checkpoint(args.workdir)
    except (ValueError, FileNotFoundError) as e:
        raise UsageError(str(e)) from None
    for key in sorted(results):
        print(f"  {key:32s} {results[key]:.4f}")
    print(f"written: {os.path.join(args.workdir, 'eval.json')}")
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    from jaxssl import data, methods, optim

    print("methods:   " + ", ".join(methods.method_names()))
    print("datasets:")
    for form in data.DATASETS:
        print(f"  {form.spec:12s} {form.description}")
    print("optimizers: " + ", ".join(optim.OPTIMIZERS))
    print("schedules: " + ", ".join(optim.SCHEDULES))
    config_dir = Path(args.configs)
    configs = sorted(p for p in config_dir.glob("*.py") if not p.name.startswith("_"))
    print(f"configs ({config_dir}): " + (", ".join(str(p) for p in configs) or "none"))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jaxssl", description="Self- and semi-supervised learning in JAX."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("train", help="train a config (resumes from its workdir)")
    p.add_argument(
        "config", help="path to a config file, e.g. configs/autoencoder_digits.py"
    )
    p.add_argument(
        "--workdir", default=None, help="output folder (default runs/<config>)"
    )
    p.add_argument(
        "--no-progress",
        dest="progress",
        action="store_false",
        help="hide the progress bar",
    )
    p = sub.add_parser("eval", help="re-evaluate the latest checkpoint of a workdir")
    p.add_argument("workdir")
    p = sub.add_parser("list", help="list methods, datasets, optimizers and configs")
    p.add_argument("--configs", default="configs", help="folder of config files")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    overrides = [a for a in argv if a.startswith("--config.")]
    rest = [a for a in argv if not a.startswith("--config.")]
    parser = build_parser()
    args = parser.parse_args(rest)
    if overrides and args.command != "train":
        parser.error("--config.* overrides only apply to `jaxssl train`")
    try:
        if args.command == "train":
            return _cmd_train(args, overrides)
        if args.command == "eval":
            return _cmd_eval(args)
        return _cmd_list(args)
    except UsageError as e:
        print(f"jaxssl: error: {e}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
