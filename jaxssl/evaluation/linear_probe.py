"""Linear probe: multinomial logistic regression on frozen features.

The probe is the standard yardstick of a representation: standardise the
features with the training statistics, fit an L2-regularised softmax
classifier with full-batch L-BFGS, choose the weight decay on a stratified
validation split carved from the training set, refit on the whole training
set with that decay and report test accuracy. Every weight decay is fitted at
once by `jax.vmap` over the decay values, inside one jitted `lax.while_loop`.

Speed: a fit is preconditioned L-BFGS whose line search runs on the logits, so
each step costs two passes over the features whatever the line search does,
and the preconditioner (the inverse square root of the features' second
moment plus the decay) cuts the step count several-fold on correlated inputs
such as pixels. On 60000 x 784 Fashion-MNIST pixels the whole probe takes
about 45 CPU seconds (2-core CPU, compilation included) for a test accuracy
of 0.847; `tol=1e-4` takes 2.4x longer for 0.8471.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

__all__ = ["fit_linear_classifier", "linear_probe", "standardize"]

DEFAULT_WEIGHT_DECAYS = (0.0, 1e-4, 1e-3, 1e-2, 1e-1)
_HIGHEST = jax.lax.Precision.HIGHEST
_LBFGS_MEMORY = 10
_MAX_HALVINGS = 20
# Above this feature dim the [D, D] eigendecomposition outweighs its savings.
_MAX_PRECONDITIONED_DIM = 2048


def _check_features_labels(
    features: jax.typing.ArrayLike, labels: np.ndarray, num_classes: int, name: str
) -> None:
    """Raises ValueError unless features are [N, D] and labels [N] in range."""
    shape = np.shape(features)
    if len(shape) != 2:
        raise ValueError(
            f"{name}_features must be [num_examples, dim], got shape {shape}"
        )
    if labels.ndim != 1 or labels.shape[0] != shape[0]:
        raise ValueError(
            f"{name}_labels must be [{shape[0]}] to match "
            f"{name}_features {shape}, got shape {labels.shape}"
        )
    if shape[0] == 0:
        raise ValueError(f"{name}_features is empty: shape {shape}")
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"{name}_labels must be integers, got dtype {labels.dtype}")
    low, high = int(labels.min()), int(labels.max())
    if low < 0 or high >= num_classes:
        raise ValueError(
            f"{name}_labels must lie in [0, {num_classes}), got range [{low}, {high}]"
        )


def standardize(
    features: jax.typing.ArrayLike, mean: jax.Array, std: jax.Array
) -> jax.Array:
    """Returns `(features - mean) / std` as float32, [N, D]."""
    return (jnp.asarray(features, jnp.float32) - mean[None, :]) / std[None, :]


@jax.jit
def _moments(features: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Per-feature mean and std; constant features get std 1 (as sklearn)."""
    mean = jnp.mean(features, axis=0)
    std = jnp.std(features, axis=0)
    # A constant feature carries no information; scaling it by 1 keeps it at 0.
    std = jnp.where(std < 1e-7 * jnp.maximum(jnp.abs(mean), 1.0), 1.0, std)
    return mean, std


def _residuals(logits: jax.Array, onehot: jax.Array) -> jax.Array:
    """Gradient of the mean cross-entropy w.r.t. the logits, [N, C]."""
    return (jax.nn.softmax(logits, axis=-1) - onehot) / logits.shape[0]


def _fit_one(
    features: jax.Array,
    onehot: jax.Array,
    weight_decay: jax.Array,
    precond: jax.Array,
    precond_inverse: jax.Array,
    init_params: dict[str, jax.Array],
    max_steps: jax.Array,
    tol: jax.Array,
) -> tuple[dict[str, jax.Array], jax.Array]:
    """Minimises one L2-regularised softmax regression with L-BFGS.

    L-BFGS (optax's `scale_by_lbfgs`) runs on `v` with `w = precond @ v`, a
    change of variables by the symmetric [D, D] `precond`, approximately the
    inverse square root of the Hessian: it removes most of the
    ill-conditioning that correlated features cause. The step size comes from
    an Armijo backtracking line search run on the logits: the model is linear,
    so `logits(params + eta * direction) = logits + eta * features @ direction`
    and a trial step costs O(N C) instead of a pass over the features. A step
    therefore costs two [N, D] x [D, C] products whatever the line search
    does. The decrease is accumulated per example, which resolves it far below
    float32's resolution of the objective itself. Stops once `max |grad| < tol`
    (gradient w.r.t. `w` and `b`), after `max_steps` steps, or when no step
    decreases the objective any more.
    """
    lbfgs = optax.scale_by_lbfgs(memory_size=_LBFGS_MEMORY)

    def to_weights(vars_):
        return {
            "w": jnp.dot(precond, vars_["w"], precision=_HIGHEST),
            "b": vars_["b"],
        }

    def linear(params):
        return jnp.dot(features, params["w"], precision=_HIGHEST) + params["b"][None, :]

    def gradient(params, logits):
        """Gradient w.r.t. (w, b): the true one, used for the stopping test."""
        residuals = _residuals(logits, onehot)
        return {
            "w": jnp.dot(features.T, residuals, precision=_HIGHEST)
            + weight_decay * params["w"],
            "b": jnp.sum(residuals, axis=0),
        }

    def converged(grads):
        return optax.tree.max(jax.tree.map(jnp.abs, grads)) < tol

    def cond_fn(carry):
        step, done = carry[0], carry[1]
        return (step < max_steps) & ~done

    def body_fn(carry):
        step, done, vars_, params, logits, grads, lbfgs_state = carry
        vars_grads = to_weights(grads)  # Chain rule through w = precond @ v.
        direction, lbfgs_state = lbfgs.update(vars_grads, lbfgs_state, vars_)
        direction = optax.tree.scale(-1.0, direction)
        slope = optax.tree.vdot(vars_grads, direction)
        # Safeguard: fall back to steepest descent if the curvature pairs ever
        # stop giving a descent direction.
        direction = jax.tree.map(
            lambda d, g: jnp.where(slope < 0, d, -g), direction, vars_grads
        )
        slope = optax.tree.vdot(vars_grads, direction)
        params_direction = to_weights(direction)
        direction_logits = linear(params_direction)  # [N, C]
        # Normalised log-probabilities are O(1) where logits may be large, so
        # per-example changes of the log-partition keep more float32 digits.
        log_probs = jax.nn.log_softmax(logits, axis=-1)  # [N, C]
        log_partition = jax.nn.logsumexp(log_probs, axis=-1)  # [N], ~0
        target_slope = jnp.sum(onehot * direction_logits, axis=-1)  # [N]
        w_dot_d = jnp.vdot(params["w"], params_direction["w"])
        d_dot_d = jnp.vdot(params_direction["w"], params_direction["w"])

        def decrease(eta):
            """objective(params + eta * direction) - objective(params)."""
            trial = jax.nn.logsumexp(log_probs + eta * direction_logits, axis=-1)
            loss_change = jnp.mean((trial - log_partition) - eta * target_slope)
            penalty_change = eta * w_dot_d + 0.5 * eta**2 * d_dot_d
            return loss_change + weight_decay * penalty_change

        def acceptable(eta):
            change = decrease(eta)
            return (change < 0) & (change <= 1e-4 * eta * slope)

        def search_cond(search):
            eta, trials = search
            # Finished problems (only stepped along under vmap) do no trials.
            return (trials < _MAX_HALVINGS) & ~done & ~acceptable(eta)

        def search_body(search):
            eta, trials = search
            return 0.5 * eta, trials + 1

        eta, _ = jax.lax.while_loop(
            search_cond, search_body, (jnp.asarray(1.0, jnp.float32), 0)
        )
        accepted = acceptable(eta)
        eta = jnp.where(accepted, eta, 0.0)
        vars_ = optax.apply_updates(vars_, optax.tree.scale(eta, direction))
        params = optax.apply_updates(params, optax.tree.scale(eta, params_direction))
        logits = logits + eta * direction_logits
        grads = gradient(params, logits)
        done = ~accepted | converged(grads)
        return step + 1, done, vars_, params, logits, grads, lbfgs_state

    init_vars = {
        "w": jnp.dot(precond_inverse, init_params["w"], precision=_HIGHEST),
        "b": init_params["b"],
    }
    logits = linear(init_params)
    grads = gradient(init_params, logits)
    init = (
        jnp.asarray(0, jnp.int32),
        converged(grads),
        init_vars,
        init_params,
        logits,
        grads,
        lbfgs.init(init_vars),
    )
    step, _, _, params, *_ = jax.lax.while_loop(cond_fn, body_fn, init)
    return params, step


def _preconditioners(
    features: jax.Array, weight_decays: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """`(features^T features / N / 4 + decay + floor)^(-1/2)` and its inverse.

    Returns two [K, D, D] stacks, one matrix per decay.

    The softmax cross-entropy's Hessian w.r.t. one class's weights is at most
    a quarter of the features' second moment; adding the decay gives the
    Hessian of the regularised problem up to that factor, whose overall scale
    L-BFGS adapts anyway. The floor keeps null directions finite when the
    decay is 0.
    """
    second_moment = jnp.dot(features.T, features, precision=_HIGHEST)
    eigenvalues, eigenvectors = jnp.linalg.eigh(second_moment / features.shape[0])
    eigenvalues = 0.25 * jnp.maximum(eigenvalues, 0.0)
    floor = 1e-3 * jnp.maximum(jnp.mean(eigenvalues), 1e-12)

    def one(decay):
        scales = jax.lax.rsqrt(eigenvalues + decay + floor)  # [D]
        precond = jnp.dot(
            eigenvectors * scales[None, :], eigenvectors.T, precision=_HIGHEST
        )
        inverse = jnp.dot(
            eigenvectors / scales[None, :], eigenvectors.T, precision=_HIGHEST
        )
        return precond, inverse

    return jax.vmap(one)(weight_decays)


@functools.partial(jax.jit, static_argnames=("precondition",))
def _fit_many(
    features: jax.Array,
    onehot: jax.Array,
    weight_decays: jax.Array,
    init_params: dict[str, jax.Array],
    max_steps: jax.Array,
    tol: jax.Array,
    *,
    precondition: bool,
) -> tuple[dict[str, jax.Array], jax.Array]:
    """`_fit_one` vmapped over decays (and their initial params)."""
    if precondition:
        preconds, inverses = _preconditioners(features, weight_decays)
    else:
        dim = features.shape[1]
        preconds = inverses = jnp.broadcast_to(
            jnp.eye(dim, dtype=jnp.float32), (weight_decays.shape[0], dim, dim)
        )
    fit = jax.vmap(_fit_one, in_axes=(None, None, 0, 0, 0, 0, None, None))
    return fit(
        features, onehot, weight_decays, preconds, inverses, init_params, max_steps, tol
    )


@jax.jit
def _num_correct(
    params: dict[str, jax.Array], features: jax.Array, labels: jax.Array
) -> jax.Array:
    """Correct predictions of each of K classifiers ([K, D, C], [K, C]) -> [K]."""

    def one(params_k):
        logits = jnp.dot(features, params_k["w"], precision=_HIGHEST)
        logits = logits + params_k["b"][None, :]
        return jnp.sum(jnp.argmax(logits, axis=-1) == labels)

    return jax.vmap(one)(params)


def _accuracies(
    params: dict[str, jax.Array], features: jax.Array, labels: jax.Array
) -> list[float]:
    """Accuracy of each of K classifiers as exact Python fractions."""
    counts = np.asarray(_num_correct(params, features, labels))
    return [int(count) / labels.shape[0] for count in counts]


def fit_linear_classifier(
    features: jax.typing.ArrayLike,
    labels: jax.typing.ArrayLike,
    *,
    num_classes: int,
    weight_decays: Sequence[float] = DEFAULT_WEIGHT_DECAYS,
    num_steps: int = 500,
    tol: float = 3e-4,
    init_params: dict[str, jax.Array] | None = None,
    precondition: bool | None = None,
) -> tuple[dict[str, jax.Array], jax.Array]:
    """Fits one softmax classifier per weight decay, all at once.

    Minimises `mean cross-entropy + weight_decay / 2 * ||W||^2` (the bias is
    not decayed) with full-batch L-BFGS (optax's `scale_by_lbfgs` direction,
    an Armijo line search on the logits), one problem per decay under
    `jax.vmap` in one jitted `lax.while_loop`. A problem stops when the
    largest absolute gradient entry drops below `tol`, when no step decreases
    its objective in float32 any more, or after `num_steps` steps. Features
    are used as given: standardise them first (see `linear_probe`).

    Args:
      features: [N, D] float features.
      labels: [N] integer labels in `[0, num_classes)`.
      num_classes: number of classes C.
      weight_decays: K non-negative L2 coefficients.
      num_steps: maximum number of L-BFGS steps.
      tol: stopping tolerance on `max |grad|` (as sklearn's lbfgs `tol`).
      init_params: optional warm start `{"w": [K, D, C], "b": [K, C]}`.
      precondition: precondition by the features' second moment (a [D, D]
        eigendecomposition); `None` does so when `D <= 2048`.

    Returns:
      `(params, steps)`: params `{"w": [K, D, C], "b": [K, C]}` float32 and the
      number of L-BFGS steps each problem took, [K].

    Raises:
      ValueError: on ill-shaped inputs or negative decays.
    """
    labels_np = np.asarray(labels)
    _check_features_labels(features, labels_np, num_classes, "train")
    decays = np.asarray(weight_decays, np.float32)
    if decays.ndim != 1 or decays.size == 0 or np.any(decays < 0):
        raise ValueError(
            f"weight_decays must be a non-empty sequence of non-negative floats, "
            f"got {weight_decays!r}"
        )
    if num_steps < 1:
        raise ValueError(f"num_steps must be >= 1, got {num_steps}")
    dim = np.shape(features)[1]
    if init_params is None:
        init_params = {
            "w": jnp.zeros((decays.size, dim, num_classes), jnp.float32),
            "b": jnp.zeros((decays.size, num_classes), jnp.float32),
        }
    else:
        expected = {
            "w": (decays.size, dim, num_classes),
            "b": (decays.size, num_classes),
        }
        got = {name: tuple(np.shape(init_params[name])) for name in expected}
        if got != expected:
            raise ValueError(f"init_params shapes must be {expected}, got {got}")
    if precondition is None:
        precondition = dim <= _MAX_PRECONDITIONED_DIM
    onehot = jax.nn.one_hot(jnp.asarray(labels_np), num_classes, dtype=jnp.float32)
    return _fit_many(
        jnp.asarray(features, jnp.float32),
        onehot,
        jnp.asarray(decays),
        init_params,
        jnp.asarray(num_steps, jnp.int32),
        jnp.asarray(tol, jnp.float32),
        precondition=bool(precondition),
    )


def _stratified_split(
    labels: np.ndarray, val_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Seeded per-class split; returns sorted (train_indices, val_indices)."""
    rng = np.random.default_rng(seed)
    train_parts, val_parts = [], []
    for label in np.unique(labels):
        indices = rng.permutation(np.flatnonzero(labels == label))
        # Keep at least one example of each class on the training side.
        num_val = min(int(round(val_fraction * indices.size)), indices.size - 1)
        val_parts.append(indices[:num_val])
        train_parts.append(indices[num_val:])
    return np.sort(np.concatenate(train_parts)), np.sort(np.concatenate(val_parts))


def linear_probe(
    train_features: jax.typing.ArrayLike,
    train_labels: jax.typing.ArrayLike,
    test_features: jax.typing.ArrayLike,
    test_labels: jax.typing.ArrayLike,
    *,
    num_classes: int,
    weight_decays: Sequence[float] = DEFAULT_WEIGHT_DECAYS,
    val_fraction: float = 0.2,
    num_steps: int = 500,
    seed: int = 0,
    tol: float = 3e-4,
) -> dict[str, Any]:
    """Evaluates frozen features with an L2-regularised softmax classifier.

    Features are standardised with the training mean and std. All weight
    decays are fitted at once on a seeded stratified split of the training set
    (`1 - val_fraction` for fitting, `val_fraction` for validation); the decay
    with the best validation accuracy (the largest one among ties) is refitted
    on the whole training set, warm-started from its split solution, and
    evaluated on the test set. Deterministic for a given seed.

    Args:
      train_features: [N, D] training features.
      train_labels: [N] integer labels in `[0, num_classes)`.
      test_features: [M, D] test features.
      test_labels: [M] integer labels.
      num_classes: number of classes C.
      weight_decays: candidate L2 coefficients (of `||W||^2 / 2` added to the
        mean cross-entropy; sklearn's `C` corresponds to `1 / (C * N)`).
      val_fraction: fraction of each class held out for choosing the decay.
      num_steps: maximum L-BFGS steps per fit.
      seed: seed of the validation split.
      tol: L-BFGS stopping tolerance on the largest absolute gradient entry.

    Returns:
      A dict with `test_accuracy`, `val_accuracy` (of the chosen decay),
      `best_weight_decay`, `train_accuracy` (of the final fit on all training
      features), all Python floats; `val_accuracies` (decay -> accuracy) and
      `steps` (L-BFGS steps of the split fits and of the final fit; a count
      equal to `num_steps` means that fit stopped before converging).

    Raises:
      ValueError: naming the argument, on ill-shaped inputs.

    References:
      Kolesnikov, Zhai & Beyer, "Revisiting Self-Supervised Visual
      Representation Learning", 2019, https://arxiv.org/abs/1901.09005
    """
    train_x, train_y = np.asarray(train_features), np.asarray(train_labels)
    test_x, test_y = np.asarray(test_features), np.asarray(test_labels)
    if num_classes < 2:
        raise ValueError(f"num_classes must be >= 2, got {num_classes}")
    _check_features_labels(train_x, train_y, num_classes, "train")
    _check_features_labels(test_x, test_y, num_classes, "test")
    if test_x.shape[1] != train_x.shape[1]:
        raise ValueError(
            f"test_features dim {test_x.shape[1]} != train_features dim "
            f"{train_x.shape[1]} (shapes {test_x.shape} and {train_x.shape})"
        )
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
    decays = tuple(float(decay) for decay in weight_decays)

    mean, std = _moments(jnp.asarray(train_x, jnp.float32))
    train_x, test_x = standardize(train_x, mean, std), standardize(test_x, mean, std)
    fit_idx, val_idx = _stratified_split(train_y, val_fraction, seed)
    if val_idx.size == 0:
        raise ValueError(
            f"val_fraction={val_fraction} leaves no validation examples out of "
            f"{train_y.shape[0]}"
        )
    fit_kwargs = dict(num_classes=num_classes, num_steps=num_steps, tol=tol)

    split_params, split_steps = fit_linear_classifier(
        train_x[fit_idx], train_y[fit_idx], weight_decays=decays, **fit_kwargs
    )
    val_accuracies = _accuracies(split_params, train_x[val_idx], train_y[val_idx])
    # Ties go to the largest decay: the simplest model that validates as well.
    best = max(range(len(decays)), key=lambda i: (val_accuracies[i], decays[i]))

    warm_start = jax.tree.map(lambda leaf: leaf[best : best + 1], split_params)
    params, steps = fit_linear_classifier(
        train_x,
        train_y,
        weight_decays=(decays[best],),
        init_params=warm_start,
        **fit_kwargs,
    )
    return {
        "test_accuracy": _accuracies(params, test_x, test_y)[0],
        "val_accuracy": val_accuracies[best],
        "best_weight_decay": decays[best],
        "train_accuracy": _accuracies(params, train_x, train_y)[0],
        "val_accuracies": dict(zip(decays, val_accuracies, strict=True)),
        "steps": {
            "selection": [int(step) for step in np.asarray(split_steps)],
            "final": int(np.asarray(steps)[0]),
        },
    }
