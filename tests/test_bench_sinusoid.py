"""Smoke tests of benchmarks/sinusoid_bench.py and the few-shot table helpers.

The sinusoid bench trains its seeds side by side under one ``jax.vmap``; each
seed must get what a run of that seed alone gets (500 meta-steps, tiny test
set, a few seconds of CPU).
"""

import dataclasses

import numpy as np
import pytest

from benchmarks import fewshot_configs_bench, make_tables
from benchmarks import sinusoid_bench as bench

TINY = dataclasses.replace(
    bench.PROTOCOLS["meta_sgd_paper"], steps=bench.CHUNK, test_tasks=200
)


@pytest.mark.parametrize("method", ["maml", "meta_sgd"])
def test_seeds_trained_together_equal_seeds_alone(method):
    together = bench.bench(method, 5, seeds=[3, 4], protocol=TINY)
    alone = bench.bench(method, 5, seeds=[4], protocol=TINY)
    np.testing.assert_allclose(together["mse"][1], alone["mse"][0], rtol=1e-4)
    assert together["mse"][0] != together["mse"][1]
    assert together["block_means"].shape == (2, 2)  # 200 tasks / 100 per block
    np.testing.assert_allclose(
        together["block_means"].mean(axis=1), together["mse"], rtol=1e-6
    )


def test_protocol_presets():
    assert bench.PROTOCOLS["maml_code"] == bench.Protocol()
    paper = bench.PROTOCOLS["meta_sgd_paper"]
    assert (paper.steps, paper.meta_batch, paper.train_query) == (60_000, 4, 10)
    assert paper.alpha_init == "per_entry"


def _record(method, shot, value, protocol="maml_code", per_seed=None):
    mean, half = bench.PAPER[(method, shot)]
    return {
        "method": method,
        "dataset": "sinusoid",
        "setting": f"{shot}-shot regression",
        "metric": "post_adaptation_mse",
        "value": value,
        "ci95": 0.05,  # over test tasks: not the seed mean's interval
        "per_seed": per_seed or [value, value],
        "median": value,
        "seeds": [0, 1],
        "paper": {"mean": mean, "ci95": half},
        "device": "1x cpu:cpu (host x, 2 cores, jax 0.10.2)",
        "config": {
            "protocol_name": protocol,
            "alpha_init": "scalar",
            "train_query": 0,
        },
    }


def test_sinusoid_table_places_means_against_the_paper():
    table = make_tables.sinusoid_table(
        [
            _record("maml", 5, 0.70),  # 0.686 +- 0.070: inside
            _record("maml", 10, 0.30),  # 0.435 +- 0.039: below
            _record("meta_sgd", 20, 0.20),  # 0.127 +- 0.017: above
            # Two seeds: 1.96 * |a - b| / 2 = 0.98 * |a - b| over seeds.
            # 0.258 +- 0.026 reaches down to 0.232: 0.228 + 0.0059 meets it.
            _record("meta_sgd", 10, 0.228, per_seed=[0.225, 0.231]),
            # 0.482 +- 0.061 reaches down to 0.421: 0.415 + 0.0039 does not.
            _record("meta_sgd", 5, 0.415, per_seed=[0.413, 0.417]),
        ]
    )
    rows = [line for line in table.splitlines() if line.startswith("| maml")]
    assert "0.700 ± 0.000 (0.700) inside" in rows[1]
    assert "0.300 ± 0.000 (0.300) below |" in rows[1]
    assert "0.200 ± 0.000 (0.200) above |" in table
    assert "0.228 ± 0.006 (0.228) below, intervals overlap" in table
    assert "0.415 ± 0.004 (0.415) below |" in table
    assert rows[0].startswith("| maml | Meta-SGD paper, Table 1 |")
    assert make_tables.sinusoid_table([]) == ""


def test_configs_bench_load_applies_variant_and_sets():
    config = fewshot_configs_bench.load(
        "matching_fashion_mnist+fce", ["train.total_steps=50", "model.name=conv4"]
    )
    assert config.method.fce is True
    assert config.train.total_steps == 50
    with pytest.raises(ValueError, match="the only variant is '\\+fce'"):
        fewshot_configs_bench.load("matching_fashion_mnist+bn", [])
    with pytest.raises(ValueError, match="has no method.fce field"):
        fewshot_configs_bench.load("protonet_fashion_mnist+fce", [])
    with pytest.raises(ValueError, match="must look like --config.field=value"):
        fewshot_configs_bench.load("protonet_fashion_mnist", ["train.total_steps"])
    with pytest.raises(ValueError, match="unknown config field 'train.steps'"):
        fewshot_configs_bench.load("protonet_fashion_mnist", ["train.steps=5"])


def test_configs_bench_parse_seeds():
    assert fewshot_configs_bench.parse_seeds(None, []) is None
    assert fewshot_configs_bench.parse_seeds("3,0,7", []) == [3, 0, 7]
    with pytest.raises(ValueError, match="comma-separated integers"):
        fewshot_configs_bench.parse_seeds("0,a", [])
    with pytest.raises(ValueError, match="at least two distinct seeds"):
        fewshot_configs_bench.parse_seeds("4", [])
    with pytest.raises(ValueError, match="at least two distinct seeds"):
        fewshot_configs_bench.parse_seeds("4,4", [])
    with pytest.raises(ValueError, match="exclusive"):
        fewshot_configs_bench.parse_seeds("0,1", ["seed=2"])


def test_configs_bench_seed_summary_is_the_mean_over_seeds():
    values, ci95s = [0.60, 0.62, 0.58, 0.64], [0.007, 0.008, 0.007, 0.006]
    fields = fewshot_configs_bench.seed_summary(values, ci95s)
    # 1.96 * std(ddof=1) / sqrt(n) by hand: std = 0.0258199, / 2.
    assert fields["value"] == 0.61 and fields["ci95"] == round(1.96 * 0.0258199 / 2, 4)
    assert (fields["min"], fields["max"]) == (0.58, 0.64)
    assert fields["per_seed"] == values and fields["per_seed_ci95"] == ci95s


def test_configs_table_shows_seed_means_with_their_lowest_seed():
    pixels = {
        "method": "nearest_centroid_pixels",
        "dataset": "fashion_mnist_class_split",
        "setting": "5-way 1-shot 15-query, base classes 0-4",
        "value": 0.5777,
        "ci95": 0.0071,
    }
    single = {
        **pixels,
        "method": "maml",
        "setting": "configs/maml_fashion_mnist.py through jaxssl train, "
        "5-way 1-shot test",
        "value": 0.61,
        "ci95": 0.007,
        "commit": "abc1234",
        "device": "1x cpu:cpu (2 cores)",
    }
    seeded = {
        **single,
        "setting": single["setting"] + ", mean of 4 seeds",
        "ci95": 0.0253,
        "per_seed": [0.60, 0.62, 0.58, 0.64],
        "min": 0.58,
    }
    records = [pixels, single, seeded]
    lines = make_tables.configs_table(records).splitlines()
    single_row = next(line for line in lines if "maml_fashion_mnist.py at" in line)
    seeded_row = next(line for line in lines if "(mean of 4 seeds)" in line)
    assert "| 0.610 ± 0.007 |" in single_row and "min" not in single_row
    assert "| 0.610 ± 0.025 (min 0.580) |" in seeded_row
    assert any(line.startswith("| nearest class means") for line in lines)
