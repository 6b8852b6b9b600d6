"""Regenerate the README's results section from ``benchmarks/results/*.jsonl``.

Run: python -m benchmarks.make_tables
"""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
START, END = "<!-- results:start -->", "<!-- results:end -->"


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _latest(records: list[dict]) -> list[dict]:
    """Keep the newest record per (method, dataset, setting, metric)."""
    latest: dict[tuple, dict] = {}
    for rec in records:
        key = (rec["method"], rec["dataset"], rec.get("setting", ""), rec["metric"])
        latest[key] = rec
    return list(latest.values())


def table(family: str) -> str:
    path = RESULTS / f"{family}.jsonl"
    records = [json.loads(line) for line in path.read_text().splitlines() if line]
    rows = [
        "| method | dataset | setting | metric | value | device | date |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for rec in _latest(records):
        value = _fmt(rec["value"])
        if rec.get("std") is not None:
            value += f" ± {_fmt(rec['std'])}"
        rows.append(
            f"| {rec['method']} | {rec['dataset']} | {rec.get('setting', '')} | "
            f"{rec['metric']} | {value} | {rec.get('device', '')} | "
            f"{rec.get('date', '')} |"
        )
    return f"### {family}\n\n" + "\n".join(rows) + "\n"


def render() -> str:
    families = sorted(p.stem for p in RESULTS.glob("*.jsonl"))
    return "\n".join(table(f) for f in families) or "No results recorded yet.\n"


def main() -> None:
    readme = ROOT / "README.md"
    text = readme.read_text()
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    readme.write_text(f"{head}{START}\n{render()}{END}{tail}")
    print(f"updated {readme}")


if __name__ == "__main__":
    main()
