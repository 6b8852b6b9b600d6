"""Tests for jaxssl.losses.vae: Gaussian KL, ELBO and the IWAE bound.

References are independent of the code under test: closed forms in float64
NumPy, scipy.stats densities, Monte Carlo, and the exact marginal likelihood
of probabilistic PCA, which a VAE with a linear Gaussian decoder and the exact
posterior as encoder must reproduce.
"""

import functools
import math

import chex
import jax
import jax.numpy as jnp
import numpy as np
from absl.testing import parameterized
from scipy import special, stats

from jaxssl.losses import elbo, gaussian_kl, iwae_bound

RTOL, ATOL = 1e-5, 1e-6
ATOL_CONST = 1e-4


def _grad(fn, **kwargs):
    """``jax.grad``, jitted: one compile instead of one per eager primitive."""
    return jax.jit(jax.grad(fn, **kwargs))


def _vmap(fn, **kwargs):
    """``jax.vmap``, jitted (as in a train step)."""
    return jax.jit(jax.vmap(fn, **kwargs))


def _posterior(seed, batch=4, latent=3, lead=()):
    rs = np.random.default_rng(seed)
    mean = rs.normal(size=(*lead, batch, latent)).astype(np.float32)
    logvar = rs.normal(scale=0.5, size=(*lead, batch, latent)).astype(np.float32)
    return mean, logvar


def _np_kl(mean, logvar):
    mean, logvar = np.float64(mean), np.float64(logvar)
    return 0.5 * np.sum(np.exp(logvar) + mean**2 - 1.0 - logvar, axis=-1)


# -------------------------------------------------------------- gaussian_kl


class GaussianKlTest(parameterized.TestCase):
    @chex.variants(with_jit=True, without_jit=True)
    @parameterized.named_parameters(("small", 4, 3), ("wide", 5, 16))
    def test_matches_closed_form(self, batch, latent):
        mean, logvar = _posterior(0, batch, latent)
        got = self.variant(gaussian_kl)(mean, logvar)
        chex.assert_shape(got, (batch,))
        chex.assert_type(got, jnp.float32)
        np.testing.assert_allclose(got, _np_kl(mean, logvar), rtol=RTOL, atol=ATOL)

    def test_hand_computed(self):
        # 0.5 * [(1 + 1 - 1 - 0) + (2 + 0 - 1 - log 2)] = 1 - 0.5 log 2.
        got = gaussian_kl(np.array([[1.0, 0.0]]), np.array([[0.0, math.log(2.0)]]))
        np.testing.assert_allclose(got, [1.0 - 0.5 * math.log(2.0)], atol=ATOL_CONST)
        zero = gaussian_kl(np.zeros((2, 3)), np.zeros((2, 3)))
        np.testing.assert_allclose(zero, [0.0, 0.0], atol=ATOL_CONST)

    def test_matches_monte_carlo(self):
        mean, logvar = _posterior(1, batch=3, latent=2)
        rs = np.random.default_rng(2)
        std = np.exp(0.5 * np.float64(logvar))
        z = mean + std * rs.normal(size=(200_000, *mean.shape))  # [S, B, D]
        log_q = stats.norm.logpdf(z, mean, std).sum(-1)
        log_p = stats.norm.logpdf(z).sum(-1)
        mc = (log_q - log_p).mean(0)
        np.testing.assert_allclose(gaussian_kl(mean, logvar), mc, atol=0.02)

    def test_grad_and_vmap(self):
        mean, logvar = _posterior(3)
        grads = _grad(lambda m, v: gaussian_kl(m, v).sum(), argnums=(0, 1))(
            mean, logvar
        )
        chex.assert_tree_all_finite(grads)
        # d KL / d mean = mean; d KL / d logvar = 0.5 (exp(logvar) - 1).
        np.testing.assert_allclose(grads[0], mean, rtol=RTOL, atol=ATOL)
        np.testing.assert_allclose(
            grads[1], 0.5 * (np.exp(logvar) - 1.0), rtol=RTOL, atol=ATOL
        )
        means, logvars = _posterior(4, lead=(3,))
        batched = _vmap(gaussian_kl)(means, logvars)
        chex.assert_shape(batched, (3, 4))
        for p in range(3):
            np.testing.assert_allclose(
                batched[p], gaussian_kl(means[p], logvars[p]), rtol=RTOL, atol=ATOL
            )

    def test_shape_errors(self):
        with self.assertRaisesRegex(ValueError, "logvar"):
            gaussian_kl(np.zeros((2, 3)), np.zeros((2, 4)))
        with self.assertRaisesRegex(ValueError, "batch"):
            gaussian_kl(np.zeros(3), np.zeros(3))


# -------------------------------------------------------------------- elbo


def _np_bernoulli_loglik(x, logits):
    x, logits = np.float64(x), np.float64(logits)
    ll = x * special.log_expit(logits) + (1.0 - x) * special.log_expit(-logits)
    return ll.reshape(ll.shape[0], -1).sum(1)


def _np_gaussian_loglik(x, mean, logvar):
    scale = np.broadcast_to(np.exp(0.5 * np.float64(logvar)), x.shape)
    ll = stats.norm.logpdf(np.float64(x), np.float64(mean), scale)
    return ll.reshape(ll.shape[0], -1).sum(1)


def _elbo_problem(seed, likelihood, lead=()):
    """x [.., B, 2, 3], a decoder output and a posterior [.., B, 3]."""
    rs = np.random.default_rng(seed)
    shape = (*lead, 4, 2, 3)
    out_mean = rs.normal(size=shape).astype(np.float32)
    if likelihood == "bernoulli":
        x = rs.uniform(size=shape).astype(np.float32)  # grey levels in [0, 1]
        decoder_output = out_mean
    else:
        x = rs.normal(size=shape).astype(np.float32)
        out_logvar = rs.normal(scale=0.3, size=shape).astype(np.float32)
        decoder_output = (out_mean, out_logvar)
    mean, logvar = _posterior(seed + 1, batch=4, latent=3, lead=lead)
    return x, decoder_output, mean, logvar


class ElboTest(parameterized.TestCase):
    @chex.variants(with_jit=True, without_jit=True)
    @parameterized.named_parameters(("beta1", 1.0), ("beta4", 4.0))
    def test_bernoulli_matches_reference(self, beta):
        x, logits, mean, logvar = _elbo_problem(0, "bernoulli")
        fn = functools.partial(elbo, likelihood="bernoulli", beta=beta)
        got = self.variant(fn)(x, logits, mean, logvar)
        chex.assert_shape(got, (4,))
        chex.assert_type(got, jnp.float32)
        want = _np_bernoulli_loglik(x, logits) - beta * _np_kl(mean, logvar)
        np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL)

    def test_bernoulli_binary_matches_scipy_logpmf(self):
        rs = np.random.default_rng(1)
        x = (rs.uniform(size=(3, 7)) < 0.4).astype(np.float32)
        logits = rs.normal(scale=2.0, size=(3, 7)).astype(np.float32)
        mean, logvar = _posterior(2, batch=3)
        got = elbo(x, logits, mean, logvar, beta=0.0)
        probs = special.expit(np.float64(logits))
        want = stats.bernoulli.logpmf(x, probs).sum(1)
        np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL)

    @chex.variants(with_jit=True, without_jit=True)
    def test_gaussian_tuple_matches_scipy(self):
        x, (mu, logvar_x), mean, logvar = _elbo_problem(3, "gaussian")
        fn = functools.partial(elbo, likelihood="gaussian", beta=0.5)
        got = self.variant(fn)(x, (mu, logvar_x), mean, logvar)
        chex.assert_shape(got, (4,))
        want = _np_gaussian_loglik(x, mu, logvar_x) - 0.5 * _np_kl(mean, logvar)
        np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL)

    @parameterized.named_parameters(
        ("scalar", ()), ("per_pixel_shared", (2, 3)), ("per_example", (4, 2, 3))
    )
    def test_gaussian_logvar_broadcasts(self, logvar_shape):
        x, (mu, _), mean, logvar = _elbo_problem(4, "gaussian")
        logvar_x = np.full(logvar_shape, -0.7, np.float32)
        got = elbo(x, (mu, logvar_x), mean, logvar, likelihood="gaussian")
        want = _np_gaussian_loglik(x, mu, logvar_x) - _np_kl(mean, logvar)
        np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL)

    def test_gaussian_means_only_is_unit_variance(self):
        x, (mu, _), mean, logvar = _elbo_problem(5, "gaussian")
        got = elbo(x, mu, mean, logvar, likelihood="gaussian")
        want = _np_gaussian_loglik(x, mu, np.zeros(())) - _np_kl(mean, logvar)
        np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL)

    def test_hand_computed(self):
        zeros = np.zeros((1, 2), np.float32)
        # log sigmoid(0) = -log 2 per pixel, KL 0.
        got = elbo(np.ones((1, 2)), zeros, zeros, zeros)
        np.testing.assert_allclose(got, [-2.0 * math.log(2.0)], atol=ATOL_CONST)
        # Two standard-normal pixels at their mean: -log(2 pi), KL 0.
        got = elbo(zeros, zeros, zeros, zeros, likelihood="gaussian")
        np.testing.assert_allclose(got, [-math.log(2.0 * math.pi)], atol=ATOL_CONST)

    @parameterized.named_parameters(
        ("bernoulli", "bernoulli"), ("gaussian", "gaussian")
    )
    def test_grad_and_vmap(self, likelihood):
        fn = functools.partial(elbo, likelihood=likelihood)
        x, out, mean, logvar = _elbo_problem(6, likelihood)
        grads = _grad(lambda *a: fn(x, *a).sum(), argnums=(0, 1, 2))(out, mean, logvar)
        chex.assert_tree_all_finite(grads)
        problems = _elbo_problem(7, likelihood, lead=(3,))
        batched = _vmap(fn)(*problems)
        chex.assert_shape(batched, (3, 4))
        for p in range(3):
            single = fn(*jax.tree.map(lambda a, p=p: a[p], problems))
            np.testing.assert_allclose(batched[p], single, rtol=RTOL, atol=ATOL)

    def test_traced_beta_under_jit(self):
        x, logits, mean, logvar = _elbo_problem(8, "bernoulli")
        got = jax.jit(elbo)(x, logits, mean, logvar, beta=jnp.float32(0.25))
        want = elbo(x, logits, mean, logvar, beta=0.25)
        np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL)

    def test_errors(self):
        x, logits, mean, logvar = _elbo_problem(9, "bernoulli")
        with self.assertRaisesRegex(ValueError, "'bernoulli', 'gaussian'"):
            elbo(x, logits, mean, logvar, likelihood="poisson")
        with self.assertRaisesRegex(ValueError, "likelihood='gaussian'"):
            elbo(x, (logits, logits), mean, logvar)
        with self.assertRaisesRegex(ValueError, "decoder output shape"):
            elbo(x, logits[:, 0], mean, logvar)
        with self.assertRaisesRegex(ValueError, "does not broadcast"):
            elbo(x, (logits, np.zeros((2,))), mean, logvar, likelihood="gaussian")
        with self.assertRaisesRegex(ValueError, "batch sizes differ"):
            elbo(x, logits, mean[:2], logvar[:2])


# ------------------------------------------------ probabilistic PCA checks
#
# p(z) = N(0, I), p(x | z) = N(W z + mu, sigma2 I)  =>  p(x) = N(mu, W W^T + sigma2 I)
# and the exact posterior q*(z | x) = N(M^-1 W^T (x - mu), sigma2 M^-1) with
# M = W^T W + sigma2 I (Tipping & Bishop 1999). W has orthogonal columns, so M
# and the posterior covariance are diagonal and `gaussian_kl` applies.

SIGMA2 = 0.3


def _ppca(seed, data_dim=6, scales=(2.0, 1.2, 0.6), batch=16):
    rs = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rs.normal(size=(data_dim, len(scales))))
    w = q * np.asarray(scales)[None, :]  # [data_dim, latent], orthogonal columns
    mu = rs.normal(size=data_dim)
    z = rs.normal(size=(batch, len(scales)))
    x = z @ w.T + mu + math.sqrt(SIGMA2) * rs.normal(size=(batch, data_dim))
    return w, mu, x


def _exact_log_marginal(w, mu, x):
    cov = w @ w.T + SIGMA2 * np.eye(len(mu))
    return stats.multivariate_normal(mean=mu, cov=cov).logpdf(x)


def _exact_posterior(w, mu, x):
    m_matrix = w.T @ w + SIGMA2 * np.eye(w.shape[1])
    np.testing.assert_allclose(m_matrix, np.diag(np.diag(m_matrix)), atol=1e-12)
    post_mean = (x - mu) @ w @ np.linalg.inv(m_matrix)  # [B, latent]
    post_var = SIGMA2 / np.diag(m_matrix)  # [latent]
    return post_mean, np.log(np.broadcast_to(post_var, post_mean.shape))


def _closed_form_elbo(w, mu, x, mean, logvar):
    """E_q[log p(x | z)] - KL(q || p(z)) exactly, with `elbo` doing the work.

    `elbo` scores one decoded sample. Decoding the posterior mean m gives
    log N(x; W m + mu, sigma2 I); because the log-density is quadratic in z,
    E_q ||x - W z - mu||^2 = ||x - W m - mu||^2 + tr(W S W^T) with S = diag(var),
    so the expectation adds exactly -0.5 tr(W S W^T) / sigma2. The KL term is
    already exact in `elbo`. (The Monte-Carlo test below checks this
    correction against sampled `elbo` calls.)
    """
    decoded = (mean @ w.T + mu).astype(np.float32)
    at_mean = elbo(
        x.astype(np.float32),
        (decoded, np.float32(math.log(SIGMA2))),
        mean.astype(np.float32),
        logvar.astype(np.float32),
        likelihood="gaussian",
    )
    trace = np.exp(logvar) @ np.sum(w**2, axis=0)  # tr(W S W^T) per example
    return np.float64(at_mean) - 0.5 * trace / SIGMA2


def _kl_diag(mean_q, logvar_q, mean_p, logvar_p):
    var_ratio = np.exp(logvar_q - logvar_p)
    sq = (mean_q - mean_p) ** 2 / np.exp(logvar_p)
    return 0.5 * np.sum(var_ratio + sq - 1.0 - np.log(var_ratio), axis=-1)


class PpcaTest(parameterized.TestCase):
    def test_exact_posterior_elbo_equals_log_likelihood(self):
        w, mu, x = _ppca(0)
        post_mean, post_logvar = _exact_posterior(w, mu, x)
        got = _closed_form_elbo(w, mu, x, post_mean, post_logvar)
        exact = _exact_log_marginal(w, mu, x)
        gap = np.abs(got - exact)
        self.assertLess(gap.max(), 1e-3, f"PPCA ELBO gap {gap.max():.2e} nats")

    @parameterized.named_parameters(
        ("shifted_mean", 0.3, 0.0), ("too_wide", 0.0, 0.5), ("too_narrow", 0.0, -0.5)
    )
    def test_suboptimal_encoder_is_strictly_lower(self, shift, log_scale):
        w, mu, x = _ppca(1)
        post_mean, post_logvar = _exact_posterior(w, mu, x)
        mean, logvar = post_mean + shift, post_logvar + log_scale
        got = _closed_form_elbo(w, mu, x, mean, logvar)
        exact = _exact_log_marginal(w, mu, x)
        self.assertTrue(np.all(got < exact - 1e-3), f"{got - exact}")
        # log p(x) - ELBO = KL(q || exact posterior).
        gap = _kl_diag(mean, logvar, post_mean, post_logvar)
        np.testing.assert_allclose(exact - got, gap, atol=1e-3)

    def test_trace_correction_matches_monte_carlo(self):
        w, mu, x = _ppca(2, batch=4)
        post_mean, post_logvar = _exact_posterior(w, mu, x)
        mean, logvar = post_mean + 0.2, post_logvar + 0.3
        rs = np.random.default_rng(3)
        eps = rs.normal(size=(20_000, *mean.shape))
        z = mean + np.exp(0.5 * logvar) * eps  # [S, B, latent]
        decoded = (z @ w.T + mu).astype(np.float32)  # [S, B, data_dim]
        per_sample = _vmap(
            lambda d: elbo(
                x.astype(np.float32),
                (d, np.float32(math.log(SIGMA2))),
                mean.astype(np.float32),
                logvar.astype(np.float32),
                likelihood="gaussian",
            )
        )(decoded)  # [S, B]
        mc = np.float64(per_sample).mean(0)
        stderr = np.float64(per_sample).std(0) / math.sqrt(eps.shape[0])
        closed = _closed_form_elbo(w, mu, x, mean, logvar)
        np.testing.assert_array_less(np.abs(mc - closed), 5 * stderr + 1e-3)


# -------------------------------------------------------------- iwae_bound


class IwaeBoundTest(parameterized.TestCase):
    @chex.variants(with_jit=True, without_jit=True)
    @parameterized.named_parameters(("k1", 1), ("k7", 7), ("k64", 64))
    def test_matches_scipy_logsumexp(self, num_samples):
        rs = np.random.default_rng(num_samples)
        log_w = rs.normal(scale=3.0, size=(5, num_samples)).astype(np.float32) - 50
        got = self.variant(iwae_bound)(log_w)
        chex.assert_shape(got, (5,))
        chex.assert_type(got, jnp.float32)
        want = special.logsumexp(np.float64(log_w), axis=1) - math.log(num_samples)
        np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL)

    def test_hand_computed_and_k1(self):
        got = iwae_bound(np.log(np.array([[1.0, 2.0, 3.0]])))
        np.testing.assert_allclose(got, [math.log(2.0)], atol=ATOL_CONST)
        single = np.array([[-3.5], [120.0], [-1000.0]], np.float32)
        np.testing.assert_allclose(iwae_bound(single), single[:, 0], rtol=RTOL)

    def test_jensen(self):
        log_w = np.random.default_rng(0).normal(size=(8, 10)).astype(np.float32)
        self.assertTrue(np.all(iwae_bound(log_w) >= log_w.mean(1) - ATOL))

    def test_grad_and_vmap(self):
        log_w = np.random.default_rng(1).normal(size=(3, 4, 6)).astype(np.float32)
        grad = _grad(lambda a: iwae_bound(a).sum())(log_w[0])
        chex.assert_tree_all_finite(grad)
        # Gradient is the normalised importance weights: each row sums to 1.
        np.testing.assert_allclose(grad.sum(1), np.ones(4), rtol=RTOL)
        batched = _vmap(iwae_bound)(log_w)
        chex.assert_shape(batched, (3, 4))
        for p in range(3):
            np.testing.assert_allclose(
                batched[p], iwae_bound(log_w[p]), rtol=RTOL, atol=ATOL
            )

    def test_shape_errors(self):
        with self.assertRaisesRegex(ValueError, r"\[B, K\]"):
            iwae_bound(np.zeros(4))
        with self.assertRaisesRegex(ValueError, r"\[B, K\]"):
            iwae_bound(np.zeros((4, 0)))


def _np_norm_logpdf(x, loc, scale):
    # scipy.stats.norm.logpdf without its per-call overhead on 2.5M points.
    return -0.5 * (math.log(2 * math.pi) + ((x - loc) / scale) ** 2) - np.log(scale)


def _ppca_log_weights(seed, w, mu, x, mean, logvar, num_samples):
    """log p(x, z) - log q(z | x) for z ~ q, as [B, num_samples] in float32."""
    std = np.exp(0.5 * logvar)
    eps = np.random.default_rng(seed).normal(size=(num_samples, *mean.shape))
    z = mean + std * eps  # [S, B, latent]
    log_px = _np_norm_logpdf(x, z @ w.T + mu, math.sqrt(SIGMA2)).sum(-1)
    log_pz = _np_norm_logpdf(z, 0.0, 1.0).sum(-1)
    log_q = _np_norm_logpdf(z, mean, std).sum(-1)
    return (log_px + log_pz - log_q).T.astype(np.float32)


class IwaePpcaTest(parameterized.TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.w, cls.mu, cls.x = _ppca(4, batch=8)
        post_mean, post_logvar = _exact_posterior(cls.w, cls.mu, cls.x)
        # Deliberately suboptimal diagonal q: shifted and wider than the posterior.
        cls.mean, cls.logvar = post_mean + 0.3, post_logvar + math.log(1.5)
        cls.exact = _exact_log_marginal(cls.w, cls.mu, cls.x)
        cls.q_elbo = _closed_form_elbo(cls.w, cls.mu, cls.x, cls.mean, cls.logvar)
        cls.log_w = _ppca_log_weights(
            0, cls.w, cls.mu, cls.x, cls.mean, cls.logvar, 200 * 256
        )  # [B, 51200]

    def test_many_samples_approach_log_likelihood(self):
        bound = np.float64(iwae_bound(self.log_w[:, :5000]))
        self.assertLess(np.abs(bound - self.exact).max(), 0.05)
        self.assertTrue(np.all(bound > self.q_elbo), f"{bound - self.q_elbo}")

    def test_increases_with_k_in_expectation(self):
        # 200 replicates of K = 256 weights; the K-sample bound of a replicate
        # uses its first K weights, so one draw serves every K.
        batch = self.log_w.shape[0]
        log_w = self.log_w.reshape(batch * 200, 256)
        per_k = np.stack(
            [
                np.float64(iwae_bound(log_w[:, :k])).reshape(batch, 200).mean(0)
                for k in (1, 4, 32, 256)
            ]
        )  # [4, 200]: the batch-mean bound of every replicate, per K
        means = per_k.mean(1)
        stderr = per_k.std(1) / math.sqrt(per_k.shape[1])
        # K = 1 is the ELBO in expectation; the bound never exceeds log p(x).
        self.assertLess(abs(means[0] - self.q_elbo.mean()), 4 * stderr[0])
        self.assertTrue(np.all(np.diff(means) > 0), f"{means}")
        self.assertLess(means[-1], self.exact.mean() + 4 * stderr[-1])
