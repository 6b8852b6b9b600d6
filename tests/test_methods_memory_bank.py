"""Instance discrimination with a memory bank: loss, bank update, 8 devices, errors."""

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from absl.testing import parameterized

from jaxssl import data as data_lib
from jaxssl import train
from jaxssl.methods import build_method
from jaxssl.methods.memory_bank import (
    instance_discrimination_loss,
    momentum_bank_update,
)
from tests.helpers import load_config, run_parallel

_BATCH = 16
_DIGITS_TRAIN = 1437  # scikit-learn digits minus the 360 test images.
# A no-op translation: deterministic views (per-device rngs under pmap don't matter).
_IDENTITY = "translate(max_shift=0)"


def _config(**method):
    config = load_config("instdisc_digits")
    config.model.hidden = (32,)
    config.model.latent_dim = 16
    config.method.projection_dim = 8
    config.method.augment = _IDENTITY
    for key, value in method.items():
        config.method[key] = value
    config.input.batch_size = _BATCH
    config.train.total_steps = 3
    config.optim.schedule = dict(name="constant")
    config.evals.every = 0
    config.evals.embedding_plot = False
    return config


def _unit(x):
    x = np.asarray(x, np.float64)
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def _numpy_loss(features, bank, indices, negative_indices, temperature):
    """Eq. 2 of Wu et al. written out per example, in float64."""
    f, v = _unit(features), _unit(bank)
    out = []
    for b, i in enumerate(indices):
        if negative_indices is None:  # Every bank row; the target is row i.
            candidates, target = list(range(v.shape[0])), i
        else:  # The positive first, then the sampled rows other than itself.
            candidates, target = [i] + [j for j in negative_indices if j != i], 0
        logits = v[candidates] @ f[b] / temperature
        top = logits.max()
        out.append(np.log(np.sum(np.exp(logits - top))) + top - logits[target])
    return np.mean(out)


def _problem(seed=0, n=12, batch=4, dim=5):
    rs = np.random.default_rng(seed)
    features = rs.normal(size=(batch, dim)).astype(np.float32)
    bank = _unit(rs.normal(size=(n, dim))).astype(np.float32)
    indices = rs.permutation(n)[:batch].astype(np.int32)
    return features, bank, indices


class LossTest(parameterized.TestCase):
    @chex.variants(with_jit=True, without_jit=True)
    @parameterized.named_parameters(("whole_bank", False), ("sampled", True))
    def test_matches_numpy_reference(self, sampled):
        features, bank, indices = _problem()
        negatives = None
        if sampled:  # Repeats, and each example's own row among the samples.
            negatives = np.array([3, 7, 7, *indices, 0, 11], np.int32)
        loss_fn = functools.partial(
            instance_discrimination_loss, negative_indices=negatives, temperature=0.07
        )
        got = self.variant(loss_fn)(features, bank, indices)
        chex.assert_shape(got, ())
        want = _numpy_loss(features, bank, indices, negatives, 0.07)
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_loss_grad_vmap_and_no_grad_into_bank():
    features, bank, indices = _problem(1)
    grad_fn = jax.grad(instance_discrimination_loss, argnums=(0, 1))
    grads = jax.jit(grad_fn)(features, bank, indices, negative_indices=jnp.arange(12))
    chex.assert_tree_all_finite(grads)
    assert float(jnp.abs(grads[0]).max()) > 0
    np.testing.assert_array_equal(grads[1], np.zeros_like(bank))  # stop_gradient
    stacked = np.stack([features, 2 * features, -features])
    got = jax.jit(jax.vmap(instance_discrimination_loss, in_axes=(0, None, None)))(
        stacked, bank, indices
    )
    chex.assert_shape(got, (3,))
    np.testing.assert_allclose(got[1], got[0], rtol=1e-5)  # Scale-free (normalised).


def test_bad_loss_shapes_raise():
    features, bank, indices = _problem()
    with pytest.raises(ValueError, match="must share D"):
        instance_discrimination_loss(features[:, :3], bank, indices)
    with pytest.raises(ValueError, match=r"indices must have shape \(4,\)"):
        instance_discrimination_loss(features, bank, indices[:2])
    with pytest.raises(ValueError, match="temperature must be > 0"):
        instance_discrimination_loss(features, bank, indices, temperature=0.0)


def test_momentum_bank_update_formula():
    features, bank, indices = _problem(2)
    got = np.asarray(momentum_bank_update(bank, indices, features, 0.5))
    want = bank.copy()
    want[indices] = _unit(0.5 * bank[indices] + 0.5 * _unit(features))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    rest = np.setdiff1d(np.arange(bank.shape[0]), indices)
    np.testing.assert_array_equal(got[rest], bank[rest])


@pytest.mark.parametrize("bank_init", ["random", "first_visit"])
def test_trainer_step_writes_the_batch_rows_of_the_bank(bank_init):
    """One trainer step: the rows at the pipeline's ``batch["index"]`` move."""
    config = _config(num_negatives=64, bank_init=bank_init)
    config.num_devices = 1
    exp = train.build_experiment(config)
    assert exp.method.bank_size == _DIGITS_TRAIN  # bank_size=0: the training set.
    rng_init, rng_train = jax.random.split(jax.random.key(config.seed))
    initial = jax.device_get(train.init_state(exp, rng_init))  # Not donated.
    chex.assert_shape(initial.extra["bank"], (_DIGITS_TRAIN, 8))
    step_fn = train.compile_train_step(exp)
    state, metrics = step_fn(
        exp.parallel.put_replicated(initial), train.place_data(exp), rng_train
    )
    chex.assert_tree_all_finite(metrics)
    bank = np.asarray(state.extra["bank"])
    idx = np.asarray(
        data_lib.batch_indices(
            jax.random.fold_in(rng_train, 0), _DIGITS_TRAIN, _BATCH, 0
        )
    )
    # The batch's features from the initial weights, written out from the modules.
    images = data_lib.to_float(exp.train_images[idx])
    params = initial.params
    hidden = exp.method.encoder.apply(params["encoder"], images)
    features = _unit(exp.method.projector.apply(params["projector"], hidden))
    old = initial.extra["bank"]
    if bank_init == "random":  # The paper: momentum into a random unit row.
        want = _unit(0.5 * old[idx] + 0.5 * features)
    else:  # A first visit writes the example's own embedding.
        want = features
        visited = np.asarray(state.extra["visited"])
        assert visited[idx].all() and visited.sum() == len(idx)
    np.testing.assert_allclose(bank[idx], want, rtol=1e-5, atol=1e-5)
    rest = np.setdiff1d(np.arange(_DIGITS_TRAIN), idx)
    np.testing.assert_array_equal(bank[rest], old[rest])


def test_pmap_bank_equals_one_device():
    """Under pmap each device sees 2 rows, but every device writes all 16."""
    assert jax.device_count() == 8
    config = _config(num_negatives=0)  # The exact softmax: no sampling.
    method = build_method(config, (8, 8, 1), 10)
    rs = np.random.default_rng(0)
    order = rs.permutation(_DIGITS_TRAIN)[: 2 * _BATCH].astype(np.int32)
    batches = [
        {
            "image": rs.uniform(size=(_BATCH, 8, 8, 1)).astype(np.float32),
            "index": order[step * _BATCH : (step + 1) * _BATCH],
        }
        for step in range(2)
    ]
    initial = jax.device_get(
        method.init(jax.random.key(0), {"image": batches[0]["image"]})
    )
    dp, multi = run_parallel(method, initial, batches, "pmap", 8)
    stacked = np.asarray(multi.extra["bank"])
    for device in range(1, 8):  # Replicated banks stay identical.
        np.testing.assert_array_equal(stacked[device], stacked[0])
    multi = dp.unreplicate(multi)
    _, single = run_parallel(method, initial, batches, "jit", 1)
    chex.assert_trees_all_close(multi.extra, single.extra, rtol=1e-5, atol=1e-6)
    chex.assert_trees_all_close(multi.params, single.params, rtol=1e-4, atol=1e-6)
    # All 32 rows were written; the others are the initial ones.
    changed = np.any(np.asarray(single.extra["bank"]) != initial[1]["bank"], axis=1)
    assert set(np.flatnonzero(changed)) == set(order.tolist())


def test_missing_index_is_a_clear_error():
    method = build_method(_config(), (8, 8, 1), 10)
    images = jnp.zeros((4, 8, 8, 1))
    params, extra = method.init(jax.random.key(0), {"image": images})
    with pytest.raises(ValueError, match=r"instdisc needs batch\['index'\]"):
        method.make_objective(extra)(params, {"image": images}, jax.random.key(1))


@pytest.mark.parametrize(
    "field, value, message",
    [
        (
            "bank_momentum",
            1.0,
            r"method.bank_momentum=1.0 must be a number in \[0, 1\)",
        ),
        ("num_negatives", -1, r"method.num_negatives=-1 must be an integer >= 0"),
        ("temperature", 0.0, r"method.temperature=0.0 must be a number > 0"),
        ("projection_dim", 0, r"method.projection_dim=0 must be an integer > 0"),
        (
            "bank_size",
            100,
            r"method.bank_size=100 is smaller than the 1437 training examples",
        ),
        (
            "bank_init",
            "zeros",
            r"method.bank_init='zeros'",
        ),
        (
            "queue_size",
            1024,
            r"method.queue_size is not a field of method 'instdisc'; allowed "
            r"fields: augment, bank_init, bank_momentum",
        ),
    ],
)
def test_bad_fields_are_clear_errors(field, value, message):
    config = _config()
    config.method[field] = value
    with pytest.raises(ValueError, match=message):
        build_method(config, (8, 8, 1), 10)
