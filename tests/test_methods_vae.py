"""Tests for jaxssl.methods.vae: a real digits run, the bounds, the pictures."""

import dataclasses
import os

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxssl import losses, train
from jaxssl.data import load_dataset, to_float
from jaxssl.methods import build_method
from jaxssl.methods.vae import GAUSSIAN_LOGVAR_RANGE, VAE
from tests.helpers import load_config

IMAGE_SHAPE = (8, 8, 1)


def _config(**method):
    config = load_config("vae_digits")
    config.num_devices = 1
    config.model.hidden = (64,)
    config.input.batch_size = 64
    config.optim.lr = 3e-3
    config.optim.schedule.warmup_steps = 10
    config.train.total_steps = 800
    config.train.log_every = 100
    config.train.ckpt_every = 0
    config.method.iwae_samples = 50
    config.evals.every = 0
    config.evals.raw_baseline = False
    config.evals.final_probe = False  # the tests here assert ELBO/IWAE/kNN
    config.evals.embedding_plot = False
    for key, value in method.items():
        config.method[key] = value
    return config


def _tiny_vae(latent_dim=2, **method) -> VAE:
    config = _config(**method)
    config.model.hidden = (16,)
    config.model.latent_dim = latent_dim
    return build_method(config, IMAGE_SHAPE, 10)


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    """Train the shrunken digits VAE once; return its summary and baselines."""
    config = _config()
    exp = train.build_experiment(config)
    # The trainer's own initial parameters: split the seed the way it does.
    rng_init, _ = jax.random.split(jax.random.key(config.seed))
    state = train.init_state(exp, rng_init)
    test = to_float(exp.dataset.test_images)
    untrained = jax.jit(exp.method.eval_metrics)(
        state.params, state.extra, {"image": test}
    )
    workdir = str(tmp_path_factory.mktemp("vae_digits"))
    summary = train.train_and_evaluate(config, workdir, exp=exp, progress=False)
    return summary, workdir, float(untrained["elbo"]), exp.dataset


def _factorised_bernoulli_elbo(dataset) -> float:
    """Expected test log-likelihood of the best z-free model, nats per example.

    Independent Bernoulli pixels with the training set's mean grey levels;
    averaged over the binarisation of each test image, its log-likelihood is
    the (negative) cross-entropy with the grey levels.
    """
    probs = np.clip(dataset.train_images.mean(axis=0) / 255.0, 1e-3, 1 - 1e-3)
    grey = dataset.test_images / 255.0
    log_lik = grey * np.log(probs) + (1 - grey) * np.log1p(-probs)
    return float(log_lik.reshape(grey.shape[0], -1).sum(axis=1).mean())


def test_digits_run_beats_baselines_and_iwae_is_tighter(digits_run):
    summary, _, untrained_elbo, dataset = digits_run
    elbo, iwae = summary["test_elbo"], summary["test_iwae_50"]
    # Untrained: about -64 * log 2 (44 nats) plus the KL.
    assert elbo > untrained_elbo + 20.0, (elbo, untrained_elbo)
    # Beats the best model whose pixels ignore z (about -27.2 nats).
    assert elbo > _factorised_bernoulli_elbo(dataset) + 1.5, elbo
    assert elbo > -30.0 and iwae < 0.0, (elbo, iwae)
    assert iwae >= elbo, (iwae, elbo)
    assert summary["test_kl"] > 0.5  # The latent is used.
    assert summary["knn_accuracy"] > 0.7


def test_digits_run_writes_pictures(digits_run):
    summary, workdir, _, _ = digits_run
    for name in ("reconstructions", "samples", "interpolation"):
        path = os.path.join(workdir, f"{name}.png")
        assert os.path.getsize(path) > 0, path
        assert f"{name}.png" in summary["plots"]


def test_objective_is_finite_with_finite_grads_and_beta_weights_the_kl():
    vae = _tiny_vae(latent_dim=3, beta=4.0)
    images = to_float(load_dataset("digits").train_images[:16])
    params, extra = vae.init(jax.random.key(0), {"image": images})
    grad_fn = jax.jit(jax.value_and_grad(vae.make_objective(extra), has_aux=True))
    (loss, aux), grads = grad_fn(params, {"image": images}, jax.random.key(1))
    chex.assert_shape(loss, ())
    chex.assert_tree_all_finite((loss, aux, grads))
    metrics = aux["metrics"]
    # The loss weights the KL by beta; the reported ELBO does not.
    np.testing.assert_allclose(
        loss, metrics["reconstruction"] + 4.0 * metrics["kl"], rtol=1e-5
    )
    np.testing.assert_allclose(
        metrics["elbo"], -(metrics["reconstruction"] + metrics["kl"]), rtol=1e-5
    )
    chex.assert_shape(vae.encode(params, extra, images), (16, 3))


def test_log_weights_average_to_the_elbo_and_iwae_ignores_chunking():
    vae = _tiny_vae(latent_dim=2, iwae_samples=30)
    # 30 samples in chunks of 4 (the last chunk padded and masked).
    chunked_vae = dataclasses.replace(vae, max_decode_rows=16)
    images = to_float(load_dataset("digits").test_images[:4])
    params, _ = vae.init(jax.random.key(2), {"image": images})

    @jax.jit  # One compiled function: compiles dominate this test on CPU.
    def bounds(eps, keys):
        mean, logvar = vae.posterior(params, images)
        log_w = vae.log_weights(params, images, mean, logvar, eps)
        latents = mean[:, None] + jnp.exp(0.5 * logvar)[:, None] * eps
        logits = vae.decode(params, latents.reshape(-1, 2))
        repeat = lambda x: jnp.repeat(x, eps.shape[1], axis=0)
        elbos = losses.elbo(repeat(images), logits, repeat(mean), repeat(logvar))
        iwae = vae.iwae(params, images, keys)
        return (
            log_w,
            elbos.reshape(log_w.shape),
            iwae,
            chunked_vae.iwae(params, images, keys),
        )

    eps = jax.random.normal(jax.random.key(3), (4, 4000, 2))
    keys = jax.random.split(jax.random.key(4), 4)
    log_w, elbos, whole, chunked = bounds(eps, keys)
    chex.assert_shape(log_w, (4, 4000))
    # E_q[log p(x, z) - log q(z | x)] is the ELBO (analytic KL form).
    np.testing.assert_allclose(log_w.mean(axis=1), elbos.mean(axis=1), atol=0.1)
    np.testing.assert_allclose(chunked, whole, rtol=1e-5, atol=1e-5)
    assert (whole >= log_w.mean(axis=1) - 0.5).all()


@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian"])
def test_log_likelihood_matches_losses_elbo(likelihood):
    vae = _tiny_vae(latent_dim=2, likelihood=likelihood)
    images = to_float(load_dataset("digits").test_images[:3])
    images = images.at[0].set(jnp.round(images[0]))  # Binary and grey inputs.
    params, _ = vae.init(jax.random.key(5), {"image": images})
    latents = jax.random.normal(jax.random.key(6), (3 * 4, 2))  # 4 per input
    output = vae.decode(params, latents)
    got = vae.log_likelihood(images, output)
    chex.assert_shape(got, (3, 4))
    zeros = jnp.zeros((12, 1))
    want = losses.elbo(
        jnp.repeat(images, 4, axis=0), output, zeros, zeros, likelihood=likelihood
    )
    np.testing.assert_allclose(got.ravel(), want, rtol=1e-5, atol=1e-4)


def test_two_d_latent_pictures(tmp_path):
    vae = _tiny_vae(latent_dim=2)
    images = to_float(load_dataset("digits").test_images[:16])
    params, extra = vae.init(jax.random.key(0), {"image": images})
    paths = vae.visualize(params, extra, images, str(tmp_path))
    names = sorted(os.path.basename(path) for path in paths)
    assert names == [
        "interpolation.png",
        "latent_map.png",
        "reconstructions.png",
        "samples.png",
    ]
    assert all(os.path.getsize(path) > 0 for path in paths)


def test_eval_binarisation_is_fixed_and_independent_of_batching():
    vae = _tiny_vae(latent_dim=2)
    images = to_float(load_dataset("digits").test_images[:10])
    params, extra = vae.init(jax.random.key(0), {"image": images})

    @jax.jit
    def eval_fn(images):
        inputs = vae._eval_inputs(images, jax.random.key(0))[0]
        return inputs, vae.eval_metrics(params, extra, {"image": images})

    inputs, whole = eval_fn(images)
    assert set(np.unique(np.asarray(inputs))) <= {0.0, 1.0}
    halves = [eval_fn(images[start : start + 5]) for start in (0, 5)]
    np.testing.assert_array_equal(halves[1][0], inputs[5:])
    np.testing.assert_allclose(
        whole["elbo"], (halves[0][1]["elbo"] + halves[1][1]["elbo"]) / 2, rtol=1e-5
    )


def test_gaussian_likelihood_trains():
    config = _config(likelihood="gaussian", binarize_eval=False)
    config.input.augment = ""
    config.model.hidden = (32,)
    exp = train.build_experiment(config)
    rng_init, rng_train = jax.random.split(jax.random.key(0))
    state = train.init_state(exp, rng_init)
    assert "decoder_logvar" in state.params
    data = train.place_data(exp)
    step_fn = train.compile_train_step(exp)
    state = exp.parallel.put_replicated(state)
    losses_seen = []
    for _ in range(30):
        state, metrics = step_fn(state, data, rng_train)
        losses_seen.append(float(metrics["loss"]))
    assert np.isfinite(losses_seen).all()
    assert np.mean(losses_seen[-5:]) < np.mean(losses_seen[:5]) - 5.0, losses_seen
    logvar = exp.method.decode(
        exp.parallel.unreplicate(state).params, jnp.zeros((1, 8))
    )[1]
    low, high = GAUSSIAN_LOGVAR_RANGE
    assert float(logvar.min()) >= low and float(logvar.max()) <= high


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("likelihood", "poisson", "method.likelihood"),
        ("beta", -1.0, "method.beta"),
        ("iwae_samples", -5, "method.iwae_samples"),
    ],
)
def test_bad_method_fields(field, value, match):
    config = _config()
    config.method[field] = value
    with pytest.raises(ValueError, match=match):
        build_method(config, IMAGE_SHAPE, 10)
