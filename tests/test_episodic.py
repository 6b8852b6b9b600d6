"""The episodic runner: every few-shot method trains from its digits config,
resumes, keeps the best validated step and rejects bad fields.

Runs are tiny (a few steps, 4 test episodes of 2-shot 3-query on a 4-channel
conv4): they check wiring and the workdir contract, not accuracy.
"""

import functools
import json
import os
import re

import chex
import jax
import numpy as np
import pytest

from jaxssl import cli, episodic
from jaxssl.data import to_float
from jaxssl.evaluation import fewshot as evaluate_module
from jaxssl.meta import (
    evaluate_episodes,
    mean_confidence_interval,
    sample_sinusoid_tasks,
)
from jaxssl.meta.fewshot_methods import FEWSHOT_METHODS
from tests.helpers import load_config
from tests.omniglot_fixture import (
    FIXTURE_DRAWERS,
    omniglot_data_dir_fixture,  # noqa: F401
)

# Each method compiles its own step and scorer (10-20 s of CPU each): the
# fast suite runs ProtoNet (whose compilations the resume, validation and CLI
# tests share: same config) and second-order MAML; `pytest -m slow` the rest.
_slow = pytest.mark.slow
DIGITS_METHODS = (
    "protonet",
    "maml",
    pytest.param("matching", marks=_slow),
    pytest.param("matching_fce", marks=_slow),
    pytest.param("fomaml", marks=_slow),
    pytest.param("anil", marks=_slow),
    pytest.param("meta_sgd", marks=_slow),
    pytest.param("meta_lstm", marks=_slow),
    pytest.param("finetune", marks=_slow),
    pytest.param("cosine", marks=_slow),
)
SINUSOID_METHODS = (
    "maml",
    pytest.param("meta_sgd", marks=_slow),
    pytest.param("meta_lstm", marks=_slow),
)


def shrink_fewshot(config, total_steps: int = 6, val_every: int = 2):
    """Tiny shapes and a few steps on digits (or few sinusoid tasks)."""
    ep = config.episodes
    if ep.dataset != episodic.SINUSOID:
        ep.dataset, ep.data_dir, ep.rotate = "digits", None, False
        ep.num_base, ep.num_val, ep.split_seed = 5, 0, -1
        ep.way, ep.train_way = 3, 0
        config.model.name = "conv4"
        config.model.features, config.model.num_blocks = 4, 2
    ep.shot, ep.query, ep.tasks_per_step = 2, 2, 2
    ep.test_shots, ep.test_query = (2,), 3
    ep.test_episodes, ep.val_episodes, ep.eval_chunk = 4, 4, 2
    if "inner_steps" in config.method:
        config.method.inner_steps = min(config.method.inner_steps, 1)
        config.method.test_inner_steps = min(config.method.test_inner_steps, 1)
    if "batch_size" in config.method:
        config.method.batch_size = 8
    config.train = dict(
        total_steps=total_steps,
        steps_per_call=2,
        log_every=2,
        val_every=val_every,
        ckpt_every=2,
    )
    return config


def _tiny(name: str, **kwargs):
    return shrink_fewshot(load_config(name), **kwargs)


def _test_keys(summary):
    return {k: v for k, v in summary.items() if k.startswith("test_") and "shot" in k}


@pytest.mark.parametrize("name", DIGITS_METHODS)
def test_method_trains_and_writes_summary(name, tmp_path):
    # ProtoNet validates (its config is the one the tests below share); the
    # others skip validation, which would compile the scorer once more.
    if name == "matching_fce":
        config = _tiny("matching_digits", val_every=0)
        config.method.fce = True
    else:
        config = _tiny(f"{name}_digits", val_every=2 if name == "protonet" else 0)
    summary = episodic.train_and_evaluate(config, str(tmp_path), progress=False)
    accuracy = summary["test_3way_2shot_accuracy"]
    assert 0.0 <= accuracy <= 1.0
    assert summary["test_3way_2shot_accuracy_ci95"] >= 0.0
    assert summary["steps"] == 6
    assert summary["tested_step"] in ((2, 4, 6) if name == "protonet" else (6,))
    with open(tmp_path / "summary.json") as f:
        assert json.load(f)["test_3way_2shot_accuracy"] == accuracy
    with open(tmp_path / "metrics.jsonl") as f:
        lines = [json.loads(line) for line in f]
    assert [line["step"] for line in lines] == [2, 4, 6]
    assert all(np.isfinite(line["loss"]) for line in lines)
    assert ("val_accuracy" in lines[0]) == (name == "protonet")
    assert os.path.isdir(tmp_path / "checkpoints")


@pytest.mark.parametrize("name", SINUSOID_METHODS)
def test_sinusoid_config_runs(name, tmp_path):
    config = _tiny(f"{name}_sinusoid", total_steps=2)
    summary = episodic.train_and_evaluate(config, str(tmp_path), progress=False)
    assert np.isfinite(summary["test_2shot_mse"]) and summary["test_2shot_mse"] > 0
    assert summary["test_2shot_mse_ci95"] > 0
    assert "val_best_mse" in summary


class _Killed(Exception):
    pass


def test_resume_after_kill_matches_uninterrupted_run(tmp_path, monkeypatch):
    config = _tiny("protonet_digits")
    exp = episodic.build_experiment(config)
    full = episodic.train_and_evaluate(
        config, str(tmp_path / "full"), exp=exp, progress=False
    )

    real_chunk = episodic.train_chunk
    calls = []

    def dying_chunk(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:  # Killed after the step-2 checkpoint.
            raise _Killed
        return real_chunk(*args, **kwargs)

    workdir = str(tmp_path / "killed")
    monkeypatch.setattr(episodic, "train_chunk", dying_chunk)
    with pytest.raises(_Killed):
        episodic.train_and_evaluate(config, workdir, exp=exp, progress=False)
    monkeypatch.setattr(episodic, "train_chunk", real_chunk)
    resumed = episodic.train_and_evaluate(config, workdir, exp=exp, progress=False)

    assert _test_keys(resumed) == _test_keys(full)
    assert resumed["tested_step"] == full["tested_step"]
    assert resumed["final_metrics"] == full["final_metrics"]
    for run in ("full", "killed"):
        with open(tmp_path / run / "metrics.jsonl") as f:
            steps = [json.loads(line)["step"] for line in f]
        assert steps == [2, 4, 6]
    _, state_full = episodic.restore_run(str(tmp_path / "full"))
    _, state_resumed = episodic.restore_run(workdir)
    chex.assert_trees_all_equal(state_full, state_resumed)


def test_meta_validation_tests_the_best_step(tmp_path, monkeypatch):
    config = _tiny("protonet_digits")
    exp = episodic.build_experiment(config)
    scores = iter([0.4, 0.9, 0.6])  # Validation at steps 2, 4, 6.
    monkeypatch.setattr(episodic, "validate", lambda exp, params: (next(scores), 0.1))
    summary = episodic.train_and_evaluate(
        config, str(tmp_path), exp=exp, progress=False
    )
    assert summary["tested_step"] == 4
    assert summary["val_best_accuracy"] == pytest.approx(0.9)
    _, state = episodic.restore_run(str(tmp_path))
    assert int(state.extra["best_step"]) == 4 and int(state.step) == 6
    # The summary's test scores are the kept (step-4) parameters'.
    tested = episodic.run_test_episodes(exp, state.extra["best_params"])
    assert tested == _test_keys(summary)
    differs = jax.tree.map(
        lambda a, b: bool(np.any(a != b)), state.extra["best_params"], state.params
    )
    assert any(jax.tree.leaves(differs))


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("method.name", "nope", "method.name='nope' is not a few-shot method"),
        ("method.name", "fomaml", "first_order=True"),
        ("model.name", "vit", "model.name='vit' is not one of"),
        ("model.norm", "batch", "model.norm='batch' is not one of"),
        ("model.num_blocks", 5, "than 2**5 (one halving per max-pool)"),
        ("episodes.way", 0, "episodes.way=0 must be an integer >= 1"),
        ("episodes.way", 7, "way=7 exceeds the 5 classes"),
        ("episodes.shot", 200, "episodes.shot + episodes.query = 200 + 2 exceeds"),
        ("episodes.test_episodes", 5, "multiple of episodes.eval_chunk=2"),
        ("episodes.test_shots", (0,), "episodes.test_shots=(0,)"),
        ("episodes.num_base", 10, "episodes.num_base=10, episodes.num_val=0"),
        ("train.steps_per_call", 0, "train.steps_per_call=0 must be"),
        ("train.log_every", 0, "train.log_every=0 must be an integer >= 1"),
    ],
)
def test_bad_fields_raise_clear_errors(field, value, message):
    config = _tiny("protonet_digits")
    section, _, name = field.rpartition(".")
    (config[section] if section else config)[name] = value
    with pytest.raises(ValueError, match=re.escape(message)):
        episodic.build_experiment(config)


@pytest.mark.parametrize(
    ("name", "field", "value", "message"),
    [
        ("maml_digits", "method.inner_lr", -1.0, "method.inner_lr=-1.0 must be > 0"),
        ("maml_digits", "episodes.train_way", 4, "only protonet and matching"),
        ("meta_sgd_digits", "method.inner_lr", (0.1,), "(low, high) range"),
        ("matching_digits", "method.fce_steps", 0, "method.fce_steps=0 must be"),
        ("meta_lstm_digits", "method.inner_lr", 2.0, "inner_lr=2.0 must be in"),
        ("maml_sinusoid", "method.name", "protonet", "does not do regression"),
        ("maml_sinusoid", "episodes.augment", "flip", "must be '' for sinusoid"),
    ],
)
def test_bad_method_fields_raise_clear_errors(name, field, value, message):
    config = _tiny(name)
    section, _, key = field.rpartition(".")
    config[section.split(".")[0]][key] = value
    with pytest.raises(ValueError, match=re.escape(message)):
        episodic.build_experiment(config)


def test_cli_trains_fewshot_config_and_lists_methods(tmp_path, capsys):
    workdir = str(tmp_path / "run")
    overrides = [
        "--config.episodes.way=3",
        "--config.episodes.shot=2",
        "--config.episodes.query=2",
        "--config.episodes.test_shots=(2,)",
        "--config.episodes.test_query=3",
        "--config.episodes.test_episodes=4",
        "--config.episodes.val_episodes=4",
        "--config.episodes.eval_chunk=2",
        "--config.model.features=4",
        "--config.train.total_steps=6",  # _tiny("protonet_digits"): compiled
        "--config.train.steps_per_call=2",
        "--config.train.log_every=2",
    ]
    argv = [
        "train",
        "configs/protonet_digits.py",
        "--workdir",
        workdir,
        "--no-progress",
    ]
    assert cli.main(argv + overrides) == 0
    assert "test_3way_2shot_accuracy" in capsys.readouterr().out
    assert cli.main(["eval", workdir]) == 0
    with open(os.path.join(workdir, "eval.json")) as f:
        assert "test_3way_2shot_accuracy_ci95" in json.load(f)
    assert cli.main(["train", "configs/protonet_digits.py", "--config.episodes.way=0"])
    assert "episodes.way=0" in capsys.readouterr().err
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    assert all(method in out for method in FEWSHOT_METHODS)
    assert "configs/protonet_digits.py" in out


def test_scorer_compiles_once_for_all_validations(tmp_path):
    config = _tiny("protonet_digits")
    exp = episodic.build_experiment(config)
    state = episodic.init_state(exp, jax.random.key(0))
    # The runner scores through evaluate_episodes' jitted scorer.
    scorer = evaluate_module._score_episodes
    scorer.clear_cache()
    episodic.validate(exp, state.params)
    assert scorer._cache_size() == 1
    params = jax.tree.map(lambda x: x + 1.0, state.params)
    episodic.validate(exp, params)
    # Another experiment of the same config shares the compilation too.
    episodic.validate(episodic.build_experiment(_tiny("protonet_digits")), params)
    assert scorer._cache_size() == 1


def _float_images(episode):
    parts = ("support", "query")
    return {
        **episode,
        **{p: {**episode[p], "x": to_float(episode[p]["x"])} for p in parts},
    }


def test_runner_scores_are_evaluate_episodes_scores():
    # The runner's float-image sampler vs evaluate_episodes' default uint8
    # sampler with the scaling done in the scorer: the same episodes, scores.
    exp = episodic.build_experiment(_tiny("protonet_digits"))
    params = episodic.init_state(exp, jax.random.key(0)).params
    shot = exp.test_shots[0]
    got = episodic.run_test_episodes(exp, params)

    def score(episode, params):
        return exp.method.score(params, _float_images(episode))

    mean, ci95, scores = evaluate_episodes(
        jax.random.key(episodic.TEST_KEY_OFFSET + shot),
        exp.data.novel,
        score,
        score_args=(params,),
        way=exp.way,
        shot=shot,
        query=exp.config.episodes.test_query,
        num_episodes=exp.config.episodes.test_episodes,
        chunk=exp.config.episodes.eval_chunk,
    )
    assert got == {
        "test_3way_2shot_accuracy": mean,
        "test_3way_2shot_accuracy_ci95": ci95,
    }
    assert len(set(scores.tolist())) > 1  # not a degenerate constant


def test_runner_sinusoid_scores_match_per_chunk_reference():
    # Each of the num_episodes // chunk keys split from the test key samples
    # one chunk of tasks (the runner's episodes since before evaluate_episodes
    # served it).
    exp = episodic.build_experiment(_tiny("maml_sinusoid", total_steps=2))
    params = episodic.init_state(exp, jax.random.key(0)).params
    ep = exp.config.episodes
    rng = jax.random.key(7)
    mean, ci95 = episodic.evaluate_params(
        exp, params, None, rng, shot=2, num_episodes=ep.test_episodes
    )
    score = jax.jit(jax.vmap(lambda task: exp.method.score(params, task)))
    sample = functools.partial(
        sample_sinusoid_tasks, num_tasks=ep.eval_chunk, shot=2, query=ep.test_query
    )
    chunks = [
        score(sample(key))
        for key in jax.random.split(rng, ep.test_episodes // ep.eval_chunk)
    ]
    ref_mean, ref_ci95 = mean_confidence_interval(np.concatenate(chunks))
    np.testing.assert_allclose([mean, ci95], [ref_mean, ref_ci95], rtol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["protonet_omniglot", "maml_omniglot"])
def test_omniglot_config_end_to_end(name, omniglot_data_dir, tmp_path):
    """The Omniglot configs on TFDS Omniglot prepared locally (the fixture's
    characters have 6 drawers: 1-shot episodes with few queries).

    Slow (about 25 s of CPU each after the fixture's preparation): run with
    ``pytest -m slow tests/test_episodic.py -k omniglot``.
    """
    config = load_config(name)
    ep = config.episodes
    ep.data_dir = omniglot_data_dir
    assert ep.shot + ep.query <= FIXTURE_DRAWERS
    ep.test_query, ep.test_episodes, ep.val_episodes, ep.eval_chunk = 5, 4, 4, 2
    ep.tasks_per_step = 2
    if ep.train_way:
        ep.train_way = 10
    config.model.features = 4
    config.train = dict(
        total_steps=2, steps_per_call=2, log_every=2, val_every=2, ckpt_every=2
    )
    exp = episodic.build_experiment(config)
    # MAML's split, every character at four rotations.
    assert exp.data.num_base_classes == 4 * 1100
    assert exp.data.val.num_classes == 4 * 100
    assert exp.data.novel.num_classes == 4 * 423
    summary = episodic.train_and_evaluate(
        config, str(tmp_path), exp=exp, progress=False
    )
    assert summary["dataset"] == "tfds:omniglot"
    assert 0.0 <= summary["test_5way_1shot_accuracy"] <= 1.0
    assert summary["test_5way_1shot_accuracy_ci95"] >= 0.0
