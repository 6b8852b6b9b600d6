"""ProtoNet training on digits episodes: the jitted step learns and compiles once.

A small conv4 (3 blocks, 16 channels, for 8x8 digits) trained with
``prototypical_loss`` on 5-way episodes of the base classes 0-4; the loss on a
fixed batch of held-out episodes must drop, and the step (sampling, loss,
Adam update in one ``jax.jit`` with the state donated) must trace once.
"""

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxssl import data
from jaxssl.data.pipeline import to_float
from jaxssl.losses import prototypical_loss
from jaxssl.meta import class_split_data, sample_episodes, split_classes
from jaxssl.models import Conv4

WAY, SHOT, QUERY, TASKS = 5, 3, 5, 2
_MODEL = Conv4(features=16, num_blocks=3, norm="transductive")


def _episodes_loss(params, episodes):
    def one(episode):
        support, query = episode["support"], episode["query"]
        images = to_float(jnp.concatenate([support["x"], query["x"]]))
        embeddings = _MODEL.apply({"params": params}, images)
        num_support = support["x"].shape[0]
        loss, _ = prototypical_loss(
            embeddings[:num_support],
            support["y"],
            embeddings[num_support:],
            query["y"],
            WAY,
        )
        return loss

    return jax.vmap(one)(episodes).mean()


def _train_step(state, rng, *, episode_data, tx):
    params, opt_state, step = state
    rng = jax.random.fold_in(rng, step)
    episodes = sample_episodes(
        rng, episode_data, num_tasks=TASKS, way=WAY, shot=SHOT, query=QUERY
    )
    loss, grads = jax.value_and_grad(_episodes_loss)(params, episodes)
    updates, opt_state = tx.update(grads, opt_state, params)
    return (optax.apply_updates(params, updates), opt_state, step + 1), loss


def test_protonet_steps_reduce_loss_without_recompiling():
    split = split_classes(10, num_base=5)
    parts = class_split_data(data.load_dataset("digits"), split)
    base = parts["base"]
    tx = optax.adam(3e-3)
    params = _MODEL.init(jax.random.key(0), jnp.zeros((2, 8, 8, 1)))["params"]
    state = (params, tx.init(params), jnp.int32(0))

    @functools.partial(jax.jit, donate_argnums=(0,))
    @chex.assert_max_traces(n=1)
    def step_fn(state, rng):
        return _train_step(state, rng, episode_data=base, tx=tx)

    eval_episodes = sample_episodes(
        jax.random.key(99), base, num_tasks=16, way=WAY, shot=SHOT, query=QUERY
    )
    eval_loss = jax.jit(_episodes_loss)
    before = float(eval_loss(params, eval_episodes))

    rng = jax.random.key(1)
    losses = []
    for _ in range(20):
        state, loss = step_fn(state, rng)
        losses.append(float(loss))
    after = float(eval_loss(state[0], eval_episodes))

    assert int(state[2]) == 20
    assert np.all(np.isfinite(losses)), losses
    chex.assert_tree_all_finite(state[0])
    # Chance is log(5) = 1.61; trained embeddings separate digits well below it.
    assert after < 0.7 * before, (before, after, losses)
    assert np.mean(losses[-5:]) < np.mean(losses[:5]), losses
