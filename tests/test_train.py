"""The generic trainer: runs, resumes bitwise, stops on a non-finite loss."""

import json
import os
import signal
import subprocess
import sys
import time

import chex
import jax
import numpy as np
import pytest

from jaxssl import train
from tests.helpers import CONFIG_DIR, load_config, small_config


def test_train_writes_outputs_and_beats_nothing_silently(tmp_path):
    config = small_config(total_steps=30)
    summary = train.train_and_evaluate(config, str(tmp_path), progress=False)
    for name in ("summary.json", "metrics.jsonl", "config.json", "loss_curves.png"):
        assert (tmp_path / name).exists(), name
    assert (tmp_path / "reconstructions.png").exists()
    assert any(p.startswith("events") for p in os.listdir(tmp_path / "tb"))
    assert summary["steps"] == 30
    assert np.isfinite(summary["final_loss"])
    for key in (
        "linear_probe_accuracy",
        "linear_probe_raw_accuracy",
        "knn_accuracy",
        "knn_raw_accuracy",
        "test_loss",
    ):
        assert 0 <= summary[key] < float("inf"), key
    lines = [json.loads(x) for x in open(tmp_path / "metrics.jsonl")]
    assert [x["step"] for x in lines] == [10, 20, 30]
    assert lines[-1]["loss"] < lines[0]["loss"]


SMALL_OVERRIDES = [
    "--config.model.hidden=(32,)",
    "--config.model.latent_dim=8",
    "--config.input.batch_size=64",
    "--config.train.log_every=50",
    "--config.train.ckpt_every=50",
    "--config.evals.every=0",
    "--config.evals.embedding_plot=False",
    "--config.evals.raw_baseline=False",
    "--config.num_devices=1",
]


def _cli(workdir, total_steps):
    cmd = [
        sys.executable,
        "-m",
        "jaxssl.cli",
        "train",
        os.path.join(CONFIG_DIR, "autoencoder_digits.py"),
        "--workdir",
        str(workdir),
        "--no-progress",
        f"--config.train.total_steps={total_steps}",
        *SMALL_OVERRIDES,
    ]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def _restore(workdir):
    config = small_config()
    config.num_devices = 1
    template = train.init_state(train.build_experiment(config), jax.random.key(0))
    manager = train.make_checkpoint_manager(str(workdir))
    state = train.restore_latest(manager, template)
    manager.close()
    return state


def test_sigkill_midway_then_resume_is_bitwise_identical(tmp_path):
    total = 3000
    straight = _cli(tmp_path / "a", total)
    assert straight.wait(timeout=600) == 0, straight.stdout.read().decode()

    killed = _cli(tmp_path / "b", total)
    ckpt_dir = tmp_path / "b" / "checkpoints"
    deadline = time.time() + 300
    while time.time() < deadline and killed.poll() is None:
        if ckpt_dir.exists() and any(p.name.isdigit() for p in ckpt_dir.iterdir()):
            break
        time.sleep(0.02)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    assert killed.returncode == -signal.SIGKILL, "run finished before it was killed"
    halfway = _restore(tmp_path / "b")
    assert halfway is not None and 0 < int(halfway.step) < total

    resumed = _cli(tmp_path / "b", total)
    out = resumed.communicate(timeout=600)[0].decode()
    assert resumed.returncode == 0, out
    assert "Resuming from checkpoint" in out

    a, b = _restore(tmp_path / "a"), _restore(tmp_path / "b")
    assert int(a.step) == int(b.step) == total
    chex.assert_trees_all_equal(a.params, b.params)
    chex.assert_trees_all_equal(a.opt_state, b.opt_state)
    summary_a = json.load(open(tmp_path / "a" / "summary.json"))
    summary_b = json.load(open(tmp_path / "b" / "summary.json"))
    assert summary_a["final_loss"] == summary_b["final_loss"]
    steps = [json.loads(x)["step"] for x in open(tmp_path / "b" / "metrics.jsonl")]
    assert steps == list(range(50, total + 1, 50)), "metrics.jsonl not continuous"


def test_nonfinite_loss_stops_and_keeps_last_good_checkpoint(tmp_path):
    config = small_config(total_steps=60, ckpt_every=10)
    config.optim.lr = 1e30  # Diverges within a few steps.
    config.optim.schedule.name = "constant"
    config.optim.schedule.warmup_steps = None
    with pytest.raises(train.NonFiniteLossError, match="non-finite"):
        train.train_and_evaluate(config, str(tmp_path), progress=False)
    manager = train.make_checkpoint_manager(str(tmp_path))
    good = manager.latest_step()
    manager.close()
    if good is not None:  # every kept checkpoint is finite
        template = train.init_state(train.build_experiment(config), jax.random.key(0))
        manager = train.make_checkpoint_manager(str(tmp_path))
        chex.assert_tree_all_finite(train.restore_latest(manager, template).params)
        manager.close()


def test_resume_refuses_a_different_config(tmp_path):
    config = small_config(total_steps=10)
    train.train_and_evaluate(config, str(tmp_path), progress=False)
    other = small_config(total_steps=10)
    other.optim.lr = 0.5
    with pytest.raises(ValueError, match="optim.lr"):
        train.train_and_evaluate(other, str(tmp_path), progress=False)


def test_default_config_loads():
    config = load_config("autoencoder_digits")
    train.validate_config(config)


def test_start_run_restores_the_latest_checkpoint_and_closes_on_error(
    tmp_path, monkeypatch
):
    """The set-up both loops share: init, resume, and cleanup on any exit."""
    import jax.numpy as jnp
    import ml_collections
    import orbax.checkpoint as ocp

    closed = []
    make_manager = train.make_checkpoint_manager

    def tracked_manager(workdir):
        manager = make_manager(workdir)
        close = manager.close
        manager.close = lambda: (closed.append(manager), close())
        return manager

    monkeypatch.setattr(train, "make_checkpoint_manager", tracked_manager)
    config = ml_collections.ConfigDict({"seed": 3, "train": {"total_steps": 5}})

    def init(exp, rng):
        del exp
        params = {"w": jax.random.normal(rng, (3,))}
        return train.TrainState(jnp.int32(0), params, (), {})

    def start(config):
        return train.start_run(
            config, str(tmp_path), None, init, desc="t", progress=False
        )

    with start(config) as run:
        assert run.start_step == 0
        first = run.state
        saved = first.replace(step=jnp.int32(4), params={"w": first.params["w"] + 1})
        run.manager.save(4, args=ocp.args.StandardSave(saved))
    assert closed == [run.manager]
    # Saved on a normal exit; the next run restores it into init's structure.
    with pytest.raises(RuntimeError, match="inside"):
        with start(config) as run:
            assert run.start_step == 4
            chex.assert_trees_all_close(run.state.params, saved.params)
            raise RuntimeError("inside")
    assert len(closed) == 2 and closed[1] is run.manager
    assert run.bar.disable  # the bar was not shown (progress=False)
    # Another config in the same workdir is refused before anything is built.
    other = ml_collections.ConfigDict({"seed": 4, "train": {"total_steps": 5}})
    with pytest.raises(ValueError, match="fields differ: seed"):
        with start(other):
            pass
    assert len(closed) == 2
