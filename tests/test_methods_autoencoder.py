"""Autoencoder family on real digits: each variant beats its stated baseline."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxssl import train
from jaxssl.evaluation.linear_probe import linear_probe
from tests.helpers import load_config


def _fit(name, tmp_path, steps=600, probe=True, **method):
    config = load_config(name)
    config.model.hidden = (64,)
    config.model.latent_dim = 16
    config.num_devices = 1
    config.train.total_steps = steps
    config.train.log_every = 100
    config.train.ckpt_every = 0
    config.evals.every = 0
    config.evals.embedding_plot = False
    config.evals.raw_baseline = False
    config.evals.final_probe = probe
    if "warmup_steps" in config.optim.schedule:
        config.optim.schedule.warmup_steps = 10
    for key, value in method.items():
        config.method[key] = value
    exp = train.build_experiment(config)
    summary = train.train_and_evaluate(config, str(tmp_path), exp=exp, progress=False)
    return exp, summary


def _random_init_probe(exp):
    """Linear probe on the features of an untrained encoder (the baseline)."""
    params, extra = exp.method.init(
        jax.random.key(0), {"image": jnp.zeros((2, *exp.dataset.image_shape))}
    )
    ds = exp.dataset

    def feats(images):
        return np.asarray(exp.method.encode(params, extra, images / np.float32(255)))

    probe = linear_probe(
        feats(ds.train_images),
        ds.train_labels,
        feats(ds.test_images),
        ds.test_labels,
        num_classes=ds.num_classes,
    )
    return probe["test_accuracy"]


def test_autoencoder_beats_random_encoder_and_mean_image(tmp_path):
    exp, summary = _fit("autoencoder_digits", tmp_path)
    ds = exp.dataset
    mean_image = ds.train_images.mean(0) / 255.0
    mean_mse = float(np.mean((ds.test_images / 255.0 - mean_image) ** 2))
    assert summary["test_mse"] < 0.25 * mean_mse
    assert summary["linear_probe_accuracy"] > _random_init_probe(exp) + 0.02
    assert summary["linear_probe_accuracy"] > 0.9


def test_denoising_beats_plain_autoencoder_on_noisy_inputs(tmp_path):
    noise = "noise(std=0.4)"
    _, plain = _fit(
        "autoencoder_digits", tmp_path / "plain", probe=False, eval_noise=noise
    )
    _, denoising = _fit("denoising_ae_digits", tmp_path / "dae", probe=False)
    assert denoising["test_noisy_mse"] < 0.8 * plain["test_noisy_mse"]
    assert (tmp_path / "dae" / "denoising.png").exists()


def test_sparse_autoencoder_reaches_target_activation(tmp_path):
    _, summary = _fit("sparse_ae_digits", tmp_path, steps=800, probe=False)
    metrics = summary["final_metrics"]
    assert metrics["mean_activation"] < 0.1  # target 0.05; sigmoid codes start at 0.5
    assert summary["test_mse"] < 0.05


def test_contractive_penalty_shrinks_encoder_jacobian(tmp_path):
    _, plain = _fit(
        "autoencoder_digits",
        tmp_path / "plain",
        probe=False,
        code_activation="sigmoid",
        contractive_weight=0.0,
    )
    exp, cae = _fit(
        "contractive_ae_digits", tmp_path / "cae", probe=False, contractive_weight=0.1
    )
    # Penalty of the trained CAE vs the same penalty measured on the plain AE.
    assert cae["final_metrics"]["contractive"] > 0
    plain_exp, plain_state = train.restore_run(str(tmp_path / "plain"))
    cae_exp, cae_state = train.restore_run(str(tmp_path / "cae"))
    x = jnp.asarray(exp.dataset.test_images[:64] / np.float32(255))

    def penalty(e, state):
        return float(e.method._contractive(state.params["encoder"], x).mean())

    assert penalty(cae_exp, cae_state) < 0.5 * penalty(plain_exp, plain_state)


def test_stacked_autoencoder_phases_and_beats_random_encoder(tmp_path):
    config_steps = 800
    exp, summary = _fit(
        "stacked_ae_digits", tmp_path, steps=config_steps, steps_per_layer=150
    )
    assert summary["final_metrics"]["phase"] == 2.0  # 2 layers pretrained, then tuning
    assert summary["linear_probe_accuracy"] > _random_init_probe(exp)
    assert summary["test_mse"] < 0.02


def test_classifier_on_ten_labels_per_class(tmp_path):
    _, scratch = _fit("classifier_digits", tmp_path / "scratch", steps=300, probe=False)
    assert scratch["test_accuracy"] > 0.8  # chance is 0.1, 100 labels in all


def test_pretrained_encoder_must_match_model(tmp_path):
    _fit("autoencoder_digits", tmp_path / "ae", steps=20, probe=False)
    config = load_config("classifier_digits")
    config.method.pretrained = str(tmp_path / "ae")
    with pytest.raises(ValueError, match="model fields differ: hidden, latent_dim"):
        train.build_experiment(config)


def test_bad_method_options_name_the_field():
    config = load_config("autoencoder_digits")
    config.method.sparsity_weight = 0.1
    with pytest.raises(ValueError, match="code_activation='sigmoid'"):
        train.build_experiment(config)
    config = load_config("autoencoder_digits")
    config.method.noise = "blur(3)"
    with pytest.raises(ValueError, match="blur"):
        train.build_experiment(config)
