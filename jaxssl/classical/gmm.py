"""Gaussian mixture models fitted by EM, with full, diagonal or spherical covariances.

:func:`gmm` returns a :class:`GMMResult` (a NamedTuple pytree). The covariance
type is read from the rank of ``covariances`` ([k, d, d] full, [k, d] diagonal,
[k] spherical), so results cross ``jax.jit`` without static fields. Score,
predict, sample and compare models with :func:`gmm_score_samples`,
:func:`gmm_predict_proba`, :func:`gmm_predict`, :func:`gmm_sample` and
:func:`gmm_bic`.

Numerics follow scikit-learn's ``GaussianMixture``: log-sum-exp
responsibilities, Cholesky factors of the precisions, ``reg_covar`` added to
every variance. Full covariances are factored by a QR decomposition of the
weighted data (never by forming and then factoring the covariance), so
float32 keeps eigenvalues down to ``reg_covar`` accurate and agrees with
scikit-learn's float64 fits; user-given covariances that fail to factor are
retried with a growing jitter instead of returning NaNs.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax import lax
from jax.scipy.linalg import solve_triangular

from jaxssl.classical._common import HIGHEST, as_float_matrix
from jaxssl.classical.kmeans import kmeans

_COVARIANCE_TYPES = ("full", "diag", "spherical")
_INITS = ("kmeans", "random")
_LOG_2PI = math.log(2.0 * math.pi)


class GMMResult(NamedTuple):
    """A fitted Gaussian mixture.

    Attributes:
      weights: [k] mixing proportions.
      means: [k, d] component means.
      covariances: [k, d, d] (full), [k, d] (diag) or [k] (spherical).
      precisions_cholesky: same shape as ``covariances``: ``P`` with
        ``P P^T`` the precision (full, upper triangular as in scikit-learn),
        or ``1 / sqrt(variance)`` (diag, spherical).
      log_likelihood: scalar average log-likelihood of the training data
        under the returned parameters.
      converged: whether EM met ``tol`` before ``num_iters``.
      num_iters: EM iterations run (of the best restart).
    """

    weights: jax.Array
    means: jax.Array
    covariances: jax.Array
    precisions_cholesky: jax.Array
    log_likelihood: jax.Array
    converged: jax.Array
    num_iters: jax.Array

    @property
    def covariance_type(self) -> str:
        """``"full"``, ``"diag"`` or ``"spherical"``, from the array ranks."""
        return _covariance_type_of(self.covariances)


def _covariance_type_of(covariances: jax.Array) -> str:
    return {3: "full", 2: "diag", 1: "spherical"}[covariances.ndim]


def _safe_cholesky(cov: jax.Array) -> jax.Array:
    """Lower Cholesky factor of one [d, d] covariance, adding jitter if needed."""
    d = cov.shape[0]
    eye = jnp.eye(d, dtype=cov.dtype)
    scale = jnp.maximum(jnp.trace(cov) / d, jnp.finfo(cov.dtype).tiny)
    eps = jnp.finfo(cov.dtype).eps

    def cond(state):
        jitter, chol = state
        return jnp.any(~jnp.isfinite(chol)) & (jitter < scale)

    def body(state):
        jitter, _ = state
        jitter = jnp.where(jitter == 0, 10 * eps * scale, 10 * jitter)
        return jitter, jnp.linalg.cholesky(cov + jitter * eye)

    init = (jnp.zeros((), cov.dtype), jnp.linalg.cholesky(cov))
    return lax.while_loop(cond, body, init)[1]


def _precisions_cholesky(covariances: jax.Array) -> jax.Array:
    if covariances.ndim == 3:

        def one(cov):
            chol = _safe_cholesky(cov)
            eye = jnp.eye(cov.shape[0], dtype=cov.dtype)
            return solve_triangular(chol, eye, lower=True).T

        return lax.map(one, covariances)
    return lax.rsqrt(covariances)


def _log_gaussian(x, means, precisions_cholesky):
    """[n, k] log N(x_i; mu_j, Sigma_j), one component at a time (O(n d) memory).

    Distances are formed from differences, not from the expansion
    ``x^2 - 2 x mu + mu^2`` (which is faster but, in float32, loses whole
    nats on high-precision dimensions).
    """
    d = x.shape[1]
    kind = _covariance_type_of(precisions_cholesky)

    def mahalanobis(args):
        mean, prec_chol = args
        diff = x - mean[None, :]
        if kind == "full":
            y = jnp.matmul(diff, prec_chol, precision=HIGHEST)
        elif kind == "diag":
            y = diff * prec_chol[None, :]
        else:
            y = diff * prec_chol
        return jnp.sum(y * y, axis=1)

    # log|P| is computed outside the per-component map: inside it, XLA fuses
    # the small reduction into the [n] output and recomputes it per point
    # (10x slower on raw Fashion-MNIST).
    if kind == "full":
        log_det = jnp.sum(
            jnp.log(jnp.diagonal(precisions_cholesky, axis1=1, axis2=2)), 1
        )
    elif kind == "diag":
        log_det = jnp.sum(jnp.log(precisions_cholesky), axis=1)
    else:
        log_det = d * jnp.log(precisions_cholesky)
    maha = lax.map(mahalanobis, (means, precisions_cholesky)).T  # [n, k]
    return -0.5 * (d * _LOG_2PI + maha) + log_det[None, :]


def _e_step(x, weights, means, precisions_cholesky):
    """Return (mean log-likelihood, [n, k] log responsibilities)."""
    weighted = _log_gaussian(x, means, precisions_cholesky) + jnp.log(weights)[None, :]
    log_norm = jax.nn.logsumexp(weighted, axis=1)
    return jnp.mean(log_norm), weighted - log_norm[:, None]


def _m_step(x, resp, covariance_type, reg_covar):
    """Parameters from [n, k] responsibilities.

    Returns ``(weights, means, covariances, precisions_cholesky)``. Full
    covariances are never formed and then factored: the Cholesky factor of
    ``Sigma + reg I`` is the R of a QR decomposition of the weighted,
    centred data stacked on ``sqrt(reg) I``. That keeps the small
    eigenvalues (down to ``reg_covar``) accurate in float32, where forming
    ``Sigma`` first rounds them away (scikit-learn, in float32, then fails
    with "ill-defined empirical covariance").
    """
    n, d = x.shape
    nk = jnp.sum(resp, axis=0) + 10 * jnp.finfo(x.dtype).eps  # [k]
    means = jnp.matmul(resp.T, x, precision=HIGHEST) / nk[:, None]
    eye = jnp.eye(d, dtype=x.dtype)

    def one(args):
        r, mean, count = args
        diff = x - mean[None, :]
        if covariance_type == "full":
            weighted = jnp.sqrt(r / count)[:, None] * diff  # [n, d]
            stacked = jnp.concatenate([weighted, jnp.sqrt(reg_covar) * eye])
            upper = jnp.linalg.qr(stacked, mode="r")  # R^T R = Sigma + reg I
            signs = jnp.where(jnp.diagonal(upper) < 0, -1.0, 1.0).astype(x.dtype)
            upper = upper * signs[:, None]  # positive diagonal: R^T = chol
            cov = jnp.matmul(upper.T, upper, precision=HIGHEST)
            # scikit-learn's precisions_cholesky_ is inv(L)^T = inv(R).
            return cov, solve_triangular(upper, eye, lower=False)
        var = jnp.matmul(r, diff * diff, precision=HIGHEST) / count + reg_covar
        var = var if covariance_type == "diag" else jnp.mean(var)
        return var, lax.rsqrt(var)

    covariances, precisions_cholesky = lax.map(one, (resp.T, means, nk))
    return nk / n, means, covariances, precisions_cholesky


def _init_resp(x, num_components, rng, init):
    n = x.shape[0]
    if init == "kmeans":
        labels = kmeans(x, num_components, rng, num_restarts=1).labels
        return jax.nn.one_hot(labels, num_components, dtype=x.dtype)
    resp = jax.random.uniform(rng, (n, num_components), x.dtype)
    return resp / jnp.sum(resp, axis=1, keepdims=True)


def _em(x, params, *, num_iters, tol, reg_covar):
    """EM on centred data from ``(weights, means, covariances, precisions
    Cholesky)``; scikit-learn's loop."""
    covariance_type = _covariance_type_of(params[2])

    def cond(state):
        it, _, _, change = state
        return (it < num_iters) & (jnp.abs(change) >= tol)

    def body(state):
        it, (weights, means, _, prec), lower_bound, _ = state
        bound, log_resp = _e_step(x, weights, means, prec)
        params = _m_step(x, jnp.exp(log_resp), covariance_type, reg_covar)
        return it + 1, params, bound, bound - lower_bound

    inf = jnp.asarray(jnp.inf, x.dtype)
    state = (jnp.int32(0), params, -inf, inf)
    it, params, _, change = lax.while_loop(cond, body, state)
    weights, means, covs, prec = params
    final, _ = _e_step(x, weights, means, prec)
    return GMMResult(weights, means, covs, prec, final, jnp.abs(change) < tol, it)


def _fit_once(
    x, num_components, rng, *, covariance_type, num_iters, tol, reg_covar, init
):
    resp = _init_resp(x, num_components, rng, init)
    params = _m_step(x, resp, covariance_type, reg_covar)
    return _em(x, params, num_iters=num_iters, tol=tol, reg_covar=reg_covar)


@functools.partial(
    jax.jit,
    static_argnames=(
        "num_components",
        "covariance_type",
        "num_iters",
        "num_restarts",
        "init",
    ),
)
def gmm(
    x: jax.typing.ArrayLike,
    num_components: int,
    rng: jax.Array,
    *,
    covariance_type: str = "full",
    num_iters: int = 100,
    tol: float = 1e-3,
    reg_covar: float = 1e-6,
    num_restarts: int = 1,
    init: str = "kmeans",
) -> GMMResult:
    """Fit a Gaussian mixture by expectation-maximisation.

    Each restart initialises responsibilities from one k-means run (or at
    random), then alternates E and M steps in a ``lax.while_loop`` until the
    average log-likelihood changes by less than ``tol`` (scikit-learn's
    criterion and defaults). The restart with the highest final average
    log-likelihood is returned. The data are centred internally (the
    likelihood is translation invariant; float32 cancellation is not).

    Args:
      x: [num_points, dim] data.
      num_components: number of Gaussians k (static).
      rng: typed PRNG key.
      covariance_type: ``"full"``, ``"diag"`` or ``"spherical"``.
      num_iters: maximum EM iterations per restart.
      tol: convergence threshold on the change of the mean log-likelihood.
      reg_covar: added to every variance (the diagonal of full covariances)
        so that they stay positive definite. For quantised data it is also
        the variance floor below which the density means nothing: about
        ``step**2 / 12`` (1.3e-6 for pixels in [0, 1] with 256 levels, near
        the 1e-6 default; 1/12 for integer pixels such as digits' 0..16).
        Far below that, pixels that are constant within a component add
        ``-0.5 * log(2 * pi * reg_covar)`` nats each, dominate the
        log-likelihood and make it depend strongly on the initialisation
        (measured in ``benchmarks/classical_bench.py``).
      num_restarts: independent initialisations.
      init: ``"kmeans"`` (scikit-learn's default) or ``"random"``.

    Returns:
      A :class:`GMMResult` with means in the input's coordinates.

    Raises:
      ValueError: on a bad shape, ``num_components``, ``covariance_type`` or
        ``init``.

    References:
      Dempster, Laird & Rubin, "Maximum likelihood from incomplete data via
      the EM algorithm", JRSS-B 1977.
      Bishop, "Pattern Recognition and Machine Learning", 2006, section 9.2.
    """
    x = as_float_matrix(x)
    n = x.shape[0]
    if not 1 <= num_components <= n:
        raise ValueError(f"num_components={num_components} must be in [1, {n}]")
    if covariance_type not in _COVARIANCE_TYPES:
        raise ValueError(
            f"covariance_type={covariance_type!r}; allowed: {_COVARIANCE_TYPES}"
        )
    if init not in _INITS:
        raise ValueError(f"init={init!r}; allowed: {_INITS}")
    if num_restarts < 1:
        raise ValueError(f"num_restarts={num_restarts} must be >= 1")
    offset = jnp.mean(x, axis=0)
    xc = x - offset[None, :]
    fit = functools.partial(
        _fit_once,
        xc,
        num_components,
        covariance_type=covariance_type,
        num_iters=num_iters,
        tol=tol,
        reg_covar=reg_covar,
        init=init,
    )
    results = lax.map(fit, jax.random.split(rng, num_restarts))
    best = jnp.argmax(
        jnp.where(jnp.isnan(results.log_likelihood), -jnp.inf, results.log_likelihood)
    )
    result = jax.tree.map(lambda leaf: leaf[best], results)
    return result._replace(means=result.means + offset[None, :])


@functools.partial(jax.jit, static_argnames=("num_iters",))
def gmm_em(
    x: jax.typing.ArrayLike,
    weights: jax.typing.ArrayLike,
    means: jax.typing.ArrayLike,
    covariances: jax.typing.ArrayLike,
    *,
    num_iters: int = 100,
    tol: float = 1e-3,
    reg_covar: float = 1e-6,
) -> GMMResult:
    """Run EM from given parameters (a warm start, or a shared initialisation).

    Same loop as :func:`gmm` (which calls this after its initialisation), and
    the same as scikit-learn's ``GaussianMixture`` given ``weights_init``,
    ``means_init`` and ``precisions_init``.

    Args:
      x: [num_points, dim] data.
      weights: [k] initial mixing proportions.
      means: [k, dim] initial means.
      covariances: initial [k, dim, dim], [k, dim] or [k] covariances; their
        rank sets the covariance type.
      num_iters: maximum EM iterations.
      tol: convergence threshold on the change of the mean log-likelihood.
      reg_covar: added to every variance in each M step.

    Returns:
      A :class:`GMMResult`.
    """
    x = as_float_matrix(x)
    means = jnp.asarray(means, x.dtype)
    k, d = means.shape
    covariances = jnp.asarray(covariances, x.dtype)
    expected = {3: (k, d, d), 2: (k, d), 1: (k,)}.get(covariances.ndim)
    if means.shape[1] != x.shape[1] or covariances.shape != expected:
        raise ValueError(
            f"means {means.shape} / covariances {covariances.shape} do not fit "
            f"x {x.shape} (covariances must be [k,d,d], [k,d] or [k])"
        )
    offset = jnp.mean(x, axis=0)
    params = (
        jnp.asarray(weights, x.dtype),
        means - offset[None, :],
        covariances,
        _precisions_cholesky(covariances),
    )
    result = _em(
        x - offset[None, :],
        params,
        num_iters=num_iters,
        tol=tol,
        reg_covar=reg_covar,
    )
    return result._replace(means=result.means + offset[None, :])


@jax.jit
def gmm_score_samples(result: GMMResult, x: jax.typing.ArrayLike) -> jax.Array:
    """Return the log-density of each row of ``x`` under the mixture.

    Args:
      result: a fitted :class:`GMMResult`.
      x: [num_points, dim].

    Returns:
      [num_points] log p(x) in nats.
    """
    x = as_float_matrix(x)
    offset = jnp.mean(result.means, axis=0)
    weighted = (
        _log_gaussian(
            x - offset[None, :],
            result.means - offset[None, :],
            result.precisions_cholesky,
        )
        + jnp.log(result.weights)[None, :]
    )
    return jax.nn.logsumexp(weighted, axis=1)


@jax.jit
def gmm_predict_proba(result: GMMResult, x: jax.typing.ArrayLike) -> jax.Array:
    """Return posterior component probabilities (responsibilities).

    Args:
      result: a fitted :class:`GMMResult`.
      x: [num_points, dim].

    Returns:
      [num_points, num_components] rows summing to one.
    """
    x = as_float_matrix(x)
    offset = jnp.mean(result.means, axis=0)
    _, log_resp = _e_step(
        x - offset[None, :],
        result.weights,
        result.means - offset[None, :],
        result.precisions_cholesky,
    )
    return jnp.exp(log_resp)


@jax.jit
def gmm_predict(result: GMMResult, x: jax.typing.ArrayLike) -> jax.Array:
    """Return the most probable component of each row of ``x`` ([n] int32)."""
    return jnp.argmax(gmm_predict_proba(result, x), axis=1).astype(jnp.int32)


def gmm_num_parameters(result: GMMResult) -> int:
    """Count free parameters (as scikit-learn's ``_n_parameters``)."""
    k, d = result.means.shape
    cov = {"full": k * d * (d + 1) // 2, "diag": k * d, "spherical": k}
    return cov[result.covariance_type] + k * d + k - 1


@jax.jit
def gmm_bic(result: GMMResult, x: jax.typing.ArrayLike) -> jax.Array:
    """Bayesian information criterion on ``x`` (lower is better).

    Args:
      result: a fitted :class:`GMMResult`.
      x: [num_points, dim].

    Returns:
      Scalar ``-2 log L + num_parameters * log(num_points)``.

    References:
      Schwarz, "Estimating the dimension of a model", Annals of Statistics
      1978.
    """
    x = as_float_matrix(x)
    n = x.shape[0]
    total = jnp.sum(gmm_score_samples(result, x))
    return -2.0 * total + gmm_num_parameters(result) * math.log(n)


@functools.partial(jax.jit, static_argnames=("num_samples",))
def gmm_sample(
    result: GMMResult, rng: jax.Array, num_samples: int
) -> tuple[jax.Array, jax.Array]:
    """Draw samples from the mixture.

    Args:
      result: a fitted :class:`GMMResult`.
      rng: typed PRNG key.
      num_samples: number of samples (static).

    Returns:
      ``(samples [num_samples, dim], components [num_samples] int32)``.
    """
    rng_comp, rng_noise = jax.random.split(rng)
    k, d = result.means.shape
    comps = jax.random.categorical(
        rng_comp, jnp.log(result.weights), shape=(num_samples,)
    ).astype(jnp.int32)
    noise = jax.random.normal(rng_noise, (num_samples, d), result.means.dtype)
    covs = result.covariances
    if covs.ndim == 3:
        chol = lax.map(_safe_cholesky, covs)  # [k, d, d]
        scaled = jnp.einsum("nij,nj->ni", chol[comps], noise, precision=HIGHEST)
    elif covs.ndim == 2:
        scaled = jnp.sqrt(covs)[comps] * noise
    else:
        scaled = jnp.sqrt(covs)[comps][:, None] * noise
    return result.means[comps] + scaled, comps
