"""Append benchmark records to ``benchmarks/results/<family>.jsonl``.

One JSON object per line with the fields DESIGN.md lists: ``family, method,
dataset, setting, metric, value`` (``std``, ``seeds`` where several),
``epochs`` or ``steps``, ``wall_s``, ``device``, ``config``, ``command``,
``commit``, ``date``. The machine fields are filled in here so every record
says where and from which code it came (the commit as of the bench's start).
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"
FAMILIES = (
    "autoencoders",
    "self_supervised",
    "semi_supervised",
    "few_shot",
    "classical",
    "speed",
)


def _commit() -> str:
    # A copy of the tree without .git (an accelerator machine) names its
    # commit through the environment.
    if os.environ.get("JAXSSL_COMMIT"):
        return os.environ["JAXSSL_COMMIT"]
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            cwd=RESULTS_DIR,
        )
        # Records written by earlier benches are not a change to the code.
        dirty = subprocess.run(
            [
                "git",
                "status",
                "--porcelain",
                "--untracked-files=no",
                "--",
                ":/",
                ":(exclude,top)benchmarks/results",
            ],
            capture_output=True,
            text=True,
            cwd=RESULTS_DIR,
        ).stdout.strip()
        return out.stdout.strip() + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


# The commit of the code this process runs: read when the bench starts, not
# when a record is written (minutes later a commit may have moved HEAD, or an
# edit dirtied the tree, neither of which the running code contains).
_START_COMMIT = _commit()


def device_description() -> str:
    """Describe the accelerator (or CPU) that JAX runs on, with core count."""
    import jax

    dev = jax.devices()[0]
    kind = getattr(dev, "device_kind", dev.platform)
    n = jax.device_count()
    cpu = platform.processor() or platform.machine()
    host = f"host {cpu}, {os.cpu_count()} cores, jax {jax.__version__}"
    return f"{n}x {dev.platform}:{kind} ({host})"


def append_record(family: str, **fields: Any) -> dict[str, Any]:
    """Write one record and return it.

    Args:
      family: one of ``FAMILIES``; names the results file.
      **fields: ``method, dataset, setting, metric, value`` and any others.

    Returns:
      The record as written, with ``family, device, commit, date, command``
      filled in when not given.
    """
    if family not in FAMILIES:
        raise ValueError(f"family={family!r}; allowed: {', '.join(FAMILIES)}")
    for required in ("method", "dataset", "metric", "value"):
        if required not in fields:
            raise ValueError(f"benchmark record is missing field {required!r}")
    record = {"family": family, **fields}
    record.setdefault("setting", "")
    record.setdefault("device", device_description())
    record.setdefault("command", " ".join([Path(sys.executable).name, *sys.argv]))
    record.setdefault("commit", _START_COMMIT)
    record.setdefault("date", datetime.date.today().isoformat())
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    with open(RESULTS_DIR / f"{family}.jsonl", "a") as f:
        f.write(json.dumps(record, sort_keys=False) + "\n")
    return record
