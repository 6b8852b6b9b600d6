"""The command line: one-line errors with exit code 2; list; overrides."""

import os
import subprocess
import sys

import pytest

from jaxssl import cli
from tests.helpers import CONFIG_DIR, ROOT, load_config

CONFIG = os.path.join(CONFIG_DIR, "autoencoder_digits.py")


@pytest.mark.parametrize(
    "override, message",
    [
        (
            "--config.optim.lrr=0.1",
            "unknown config field 'optim.lrr': optim has fields:",
        ),
        ("--config.nope=1", "unknown config field 'nope'"),
        (
            "--config.optim.lr=fast",
            "config.optim.lr='fast' has type str; expected float",
        ),
        ("--config.input.batch_size=1.5", "expected int"),
        ("--config.optim.lr=-0.1", "optim.lr=-0.1 must be > 0"),
        ("--config.input.batch_size=0", "input.batch_size=0 must be an integer > 0"),
        ("--config.optim.name=adamz", "optim.name='adamz' is not one of:"),
        ("--config.input.dataset=cifar", "cifar"),
        ("--config.method.name=simclr9", "method.name='simclr9' is not one of:"),
        ("--config.parallel=shard", "parallel='shard' is not one of: jit, pmap"),
        ("--config.input.batch_size=100", "not divisible by the device count 8"),
        ("--config.input.dataset=idx:/nonexistent", "/nonexistent"),
    ],
)
def test_bad_config_is_one_line_exit_2(override, message, tmp_path, capsys):
    code = cli.main(["train", CONFIG, "--workdir", str(tmp_path), override])
    err = capsys.readouterr().err
    assert code == cli.EXIT_USAGE
    assert err.startswith("jaxssl: error: ") and err.count("\n") == 1, err
    assert message in err
    assert not os.path.exists(tmp_path / "checkpoints")


def test_error_in_subprocess_has_no_traceback(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "jaxssl",
            "train",
            CONFIG,
            "--workdir",
            str(tmp_path),
            "--config.optim.lr=-1",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "optim.lr=-1.0 must be > 0" in proc.stderr


def test_overrides_are_typed():
    config = load_config("autoencoder_digits")
    cli.apply_overrides(
        config,
        [
            "--config.optim.lr=1",
            "--config.model.hidden=(64,32)",
            "--config.input.augment=flip",
            "--config.optim.name=sgd",
            "--config.input.data_dir=/tmp/x",
        ],
    )
    assert config.optim.lr == 1.0 and isinstance(config.optim.lr, float)
    assert tuple(config.model.hidden) == (64, 32)
    assert config.input.augment == "flip"
    assert config.input.data_dir == "/tmp/x"


def test_list(capsys):
    assert cli.main(["list", "--configs", CONFIG_DIR]) == 0
    out = capsys.readouterr().out
    for word in (
        "autoencoder",
        "digits",
        "idx:<dir>",
        "tfds:<name>",
        "lars",
        "warmup_cosine",
        "autoencoder_digits.py",
    ):
        assert word in out


def test_eval_of_missing_workdir_is_usage_error(tmp_path, capsys):
    assert cli.main(["eval", str(tmp_path / "none")]) == cli.EXIT_USAGE
    assert "a jaxssl workdir?" in capsys.readouterr().err


def test_cluster_command(tmp_path, capsys):
    args = ["cluster", "--dataset", "digits", "--pca-components", "10"]
    assert cli.main([*args, "--workdir", str(tmp_path)]) == 0
    assert (tmp_path / "cluster_metrics.json").exists()
    assert "nmi" in capsys.readouterr().out
    bad = ["cluster", "--method", "dbscan", "--workdir", str(tmp_path)]
    assert cli.main(bad) == cli.EXIT_USAGE
    assert "dbscan" in capsys.readouterr().err
