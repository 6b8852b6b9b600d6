"""Regenerate the README's results section from ``benchmarks/results/*.jsonl``.

One compact table per family (per method where a family's methods report
different metrics): a row per (method, dataset, setting, device), a column per
metric, the newest record of each, and the run's wall time where recorded
(with the setting and device, the training budget). Timing details that only
make sense next to their record (CPU seconds, first-call compile time) stay
in the jsonl files.

Run: python -m benchmarks.make_tables
"""

from __future__ import annotations

import json
from pathlib import Path

from jaxssl.evaluation import mean_confidence_interval

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
START, END = "<!-- results:start -->", "<!-- results:end -->"

# Metrics left out of the README (still in the jsonl records).
HIDDEN_PREFIXES = ("cpu_s_", "jax_first_call_s", "recompiles_on_second_call")
HIDDEN_SUFFIXES = ("_over_seeds",)  # spreads over seeds; their means are shown
SHOWN_SUFFIXES = ("_mean_over_seeds",)
DATASET_NAMES = {"idx:/usr/share/datasets/fashion-mnist": "fashion_mnist (idx)"}


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _latest(records: list[dict]) -> list[dict]:
    """Keep the newest record per (method, dataset, setting, metric, device)."""
    latest: dict[tuple, dict] = {}
    for rec in records:
        key = (
            rec["method"],
            rec["dataset"],
            rec.get("setting", ""),
            rec["metric"],
            rec.get("device", ""),
        )
        latest[key] = rec
    return list(latest.values())


def _group(family: str, rec: dict) -> str:
    """Records reported in the same table."""
    if family == "classical":
        # Comparisons of seed distributions (classical_bench's gmm_seeds)
        # report other figures than single fits: a table of their own.
        seeds = " seeds" in rec.get("setting", "")
        return rec["method"] + (", means over seeds" if seeds else "")
    if family == "autoencoders":
        return "vae" if rec["method"] == "vae" else "autoencoders"
    return family


def _shown(metric: str) -> bool:
    if metric.startswith(HIDDEN_PREFIXES):
        return False
    return metric.endswith(SHOWN_SUFFIXES) or not metric.endswith(HIDDEN_SUFFIXES)


def _short_device(device: str) -> str:
    """'1x gpu:NVIDIA H100 80GB HBM3 (host ..., jax 0.11.2)' -> compact form."""
    name, _, host = device.partition(" (")
    jax_version = host.rsplit("jax ", 1)[-1].rstrip(")") if "jax " in host else ""
    cores = next((p for p in host.split(", ") if p.endswith("cores")), "")
    extra = ", ".join(x for x in (cores, f"jax {jax_version}" if jax_version else ""))
    return f"{name} ({extra})" if extra else name


def _markdown(head: list[str], rows: list[list[str]]) -> str:
    """A Markdown table: the header, its rule, one line per row."""
    lines = [head, ["---"] * len(head), *rows]
    return "\n".join("| " + " | ".join(cells) + " |" for cells in lines)


def pivot(records: list[dict], title: str) -> str:
    metrics: list[str] = []
    rows: dict[tuple, dict] = {}
    for rec in records:
        if not _shown(rec["metric"]):
            continue
        if rec["metric"] not in metrics:
            metrics.append(rec["metric"])
        key = (
            rec["method"],
            DATASET_NAMES.get(rec["dataset"], rec["dataset"]),
            rec.get("setting", ""),
            _short_device(rec.get("device", "")),
        )
        row = rows.setdefault(key, {"date": rec.get("date", "")})
        if rec.get("wall_s") is not None:
            row["wall_s"] = _fmt(float(rec["wall_s"]))
        value = _fmt(rec["value"])
        if rec.get("std") is not None:
            value += f" ± {_fmt(rec['std'])}"
            if rec.get("seeds"):
                value += f" ({len(rec['seeds'])} seeds)"
        if rec.get("ci95") is not None:
            value += f" ± {_fmt(rec['ci95'])} (95% CI)"
        row[rec["metric"]] = value
        row["date"] = max(row["date"], rec.get("date", ""))
    timed = any("wall_s" in row for row in rows.values())
    head = ["method", "dataset", "setting", *metrics]
    head += ["wall (s)", "device", "date"] if timed else ["device", "date"]
    lines = []
    for (method, dataset, setting, device), row in rows.items():
        cells = [method, dataset, setting]
        cells += [row.get(m, "") for m in metrics]
        cells += [row.get("wall_s", "")] if timed else []
        cells += [device, row["date"]]
        lines.append(cells)
    return f"#### {title}\n\n" + _markdown(head, lines) + "\n"


def sinusoid_table(records: list[dict]) -> str:
    """MAML and Meta-SGD on sinusoids against the Meta-SGD paper's Table 1.

    One row per (method, training protocol, Meta-SGD start, seeds, device),
    from ``sinusoid_bench`` records that name their protocol; each cell is
    the seed mean with its interval over seeds (median), and where it lies
    against the paper's interval.
    """
    rows: dict[tuple, dict[int, str]] = {}
    paper: dict[str, dict[int, str]] = {}
    for rec in records:
        config = rec.get("config", {})
        if rec.get("dataset") != "sinusoid" or "protocol_name" not in config:
            continue
        shot = int(rec["setting"].split("-shot", 1)[0])
        mean, half = rec["paper"]["mean"], rec["paper"]["ci95"]
        # The record's ci95 is over test tasks; the seed mean's is over seeds.
        per_seed = rec.get("per_seed", [rec["value"]])
        seed_half = mean_confidence_interval(per_seed)[1] if len(per_seed) > 1 else 0.0
        where = (
            "inside"
            if abs(rec["value"] - mean) <= half
            else ("below" if rec["value"] < mean else "above")
        )
        if where != "inside" and abs(rec["value"] - mean) <= half + seed_half:
            where += ", intervals overlap"
        start = config["alpha_init"] if rec["method"] == "meta_sgd" else ""
        protocol = config["protocol_name"]
        if config.get("train_query", 0) == 0 and protocol == "meta_sgd_paper":
            protocol += " with K train queries"
        key = (
            rec["method"],
            protocol,
            start,
            str(len(rec.get("seeds", [0]))),
            _short_device(rec.get("device", "")),
        )
        rows.setdefault(key, {})[shot] = (
            f"{rec['value']:.3f} ± {seed_half:.3f} "
            f"({rec.get('median', rec['value']):.3f}) {where}"
        )
        paper.setdefault(rec["method"], {})[shot] = f"{mean} ± {half}"
    if not rows:
        return ""
    head = ["method", "protocol", "Meta-SGD rates", "seeds", "5-shot", "10-shot"]
    head += ["20-shot", "device"]
    lines = []
    for method, shots in sorted(paper.items()):
        cells = [method, "Meta-SGD paper, Table 1", "", "1"]
        lines.append(cells + [shots.get(k, "") for k in (5, 10, 20)] + [""])
    for key in sorted(rows):
        method, protocol, start, seeds, device = key
        cells = [method, protocol, start, seeds]
        lines.append(cells + [rows[key].get(k, "") for k in (5, 10, 20)] + [device])
    return (
        "#### sinusoid against the Meta-SGD paper\n\n"
        "Post-adaptation MSE: seed mean ± its 95% interval over seeds "
        "(median), and where the mean lies against the paper's 95% interval; "
        '"intervals overlap" where the mean is outside but the two '
        "intervals meet (`benchmarks/sinusoid_bench.py`).\n\n"
        + _markdown(head, lines)
        + "\n"
    )


SHOTS = ("1-shot", "5-shot")


def configs_table(records: list[dict]) -> str:
    """The shipped few-shot configs through ``jaxssl train`` (fewshot_configs_bench).

    One row per (config, device), a column per test shot; the raw-pixel
    nearest-class-mean records of the same split give the reference row.
    """
    rows: dict[tuple, dict[str, str]] = {}
    pixels: dict[str, str] = {}
    for rec in records:
        setting = rec.get("setting", "")
        shot = next((s for s in SHOTS if s in setting), None)
        if rec.get("dataset") != "fashion_mnist_class_split" or shot is None:
            continue
        cell = f"{rec['value']:.3f} ± {rec.get('ci95', 0):.3f}"
        if "per_seed" in rec:  # fewshot_configs_bench --seeds
            cell += f" (min {rec['min']:.3f})"
        if rec["method"] == "nearest_centroid_pixels":
            pixels[shot] = cell
        elif " through jaxssl train" in setting:
            config = setting.split(" through jaxssl train", 1)[0]
            sets = [
                s
                for s in setting.split("-shot test", 1)[1].split(", ")
                if s and not s.startswith(("episodes.dataset=", "episodes.shot="))
            ]
            if "method.fce=True" in setting:
                sets.insert(0, "method.fce=True")
            if sets:
                config += f" ({', '.join(sets)})"
            config += f" at {rec.get('commit', '?')}"
            key = (config, _short_device(rec.get("device", "")))
            rows.setdefault(key, {})[shot] = cell
    if not rows:
        return ""
    head = ["config", "5-way 1-shot", "5-way 5-shot", "device"]
    pixel_cells = [pixels.get(s, "") for s in SHOTS]
    lines = [["nearest class means of raw pixels", *pixel_cells, ""]]
    for (config, device), shots in rows.items():
        lines.append([config, *(shots.get(s, "") for s in SHOTS), device])
    return (
        "#### shipped few-shot configs on the Fashion-MNIST class split\n\n"
        "Accuracy over 600 novel-class episodes with 95% intervals "
        "(`benchmarks/fewshot_configs_bench.py`; the MAML family trains with "
        'the shot it is tested with; a row "mean of N seeds" gives the mean '
        "over training seeds, its 95% interval over seeds and the lowest "
        "seed).\n\n" + _markdown(head, lines) + "\n"
    )


def table(family: str) -> str:
    path = RESULTS / f"{family}.jsonl"
    records = [json.loads(line) for line in path.read_text().splitlines() if line]
    latest = _latest(records)
    groups: dict[str, list[dict]] = {}
    for rec in latest:
        groups.setdefault(_group(family, rec), []).append(rec)
    parts = [pivot(recs, name) for name, recs in groups.items()]
    if family == "few_shot":
        parts[:0] = [sinusoid_table(latest), configs_table(latest)]
    return f"### {family}\n\n" + "\n".join(p for p in parts if p)


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
