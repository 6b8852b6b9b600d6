"""Data parallelism over every device, two ways, around the same pure step.

* ``"jit"`` (default): ``jax.jit`` over a 1-D ``Mesh`` with axis ``"data"``.
  State and the on-device dataset are replicated (``P()``); the batch built
  inside the step is constrained to ``P("data")``, so XLA splits the work and
  inserts the gradient all-reduce itself. Works multi-host after
  ``jax.distributed.initialize``; global-batch losses (SimCLR negatives) need
  no explicit all-gather because jit computes on the global batch.
* ``"pmap"``: ``jax.pmap`` with the state stacked along a leading device axis;
  each device takes its slice of the global batch and gradients, loss and
  metrics are averaged with ``lax.pmean``. Offered because users ask for it by
  name; pmap is in maintenance mode upstream (it is built on ``shard_map``
  since JAX 0.8).

Both give the single-device result for the same global batch (tested on 8
fake CPU devices).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

PARALLEL_MODES = ("jit", "pmap")
AXIS = "data"


def make_mesh(num_devices: int = 0) -> Mesh:
    """A 1-D mesh over the first ``num_devices`` devices (0 = all of them)."""
    available = jax.device_count()
    if num_devices < 0 or num_devices > available:
        raise ValueError(
            f"num_devices={num_devices} must be in [0, {available}] "
            f"(0 = all {available} devices)"
        )
    n = num_devices or available
    # Auto axes: the compiler propagates shardings from the batch constraint.
    return jax.make_mesh(
        (n,),
        (AXIS,),
        axis_types=(jax.sharding.AxisType.Auto,),
        devices=jax.devices()[:n],
    )


def check_global_batch(batch_size: int, num_devices: int) -> None:
    """The global batch must split evenly over the devices."""
    if batch_size % num_devices:
        raise ValueError(
            f"input.batch_size={batch_size} is not divisible by the device count "
            f"{num_devices}; use a multiple of {num_devices} or set num_devices"
        )


@dataclasses.dataclass(frozen=True)
class DataParallel:
    """Places state/data and compiles a step for one parallel mode.

    Attributes:
      mode: "jit" or "pmap".
      mesh: the device mesh.
    """

    mode: str
    mesh: Mesh

    @property
    def num_devices(self) -> int:
        return self.mesh.devices.size

    @property
    def replicated(self) -> NamedSharding:
        return NamedSharding(self.mesh, P())

    @property
    def batch_sharding(self) -> NamedSharding:
        return NamedSharding(self.mesh, P(AXIS))

    # -- placement ----------------------------------------------------------
    def put_replicated(self, tree: Any) -> Any:
        """Put a host/single-device pytree where the step expects it."""
        if self.mode == "jit":
            return jax.device_put(tree, self.replicated)
        n = self.num_devices
        stacked = jax.tree.map(lambda x: jnp.broadcast_to(x, (n, *jnp.shape(x))), tree)
        return jax.device_put(stacked, self.batch_sharding)

    def unreplicate(self, tree: Any) -> Any:
        """One copy of a placed pytree (for checkpoints and evaluation)."""
        if self.mode == "jit":
            return tree
        return jax.tree.map(lambda x: x[0], tree)

    # -- compilation --------------------------------------------------------
    def compile_step(self, step_fn: Callable[..., Any]) -> Callable[..., Any]:
        """Compile ``step_fn(state, data, rng, *, parallel) -> (state, metrics)``.

        The step receives ``parallel=self`` so it can call
        ``shard_batch``/``local_batch``/``reduce`` without knowing the mode.
        The input state is donated.
        """
        fn = lambda state, data, rng: step_fn(state, data, rng, parallel=self)
        if self.mode == "jit":
            return jax.jit(
                fn,
                donate_argnums=(0,),
                out_shardings=(self.replicated, self.replicated),
            )
        return jax.pmap(fn, axis_name=AXIS, in_axes=(0, 0, None), donate_argnums=(0,))

    # -- inside the step ----------------------------------------------------
    def local_batch(self, batch: Any) -> Any:
        """This device's slice of the global batch (pmap) / a sharded batch (jit)."""
        if self.mode == "jit":
            return jax.lax.with_sharding_constraint(batch, self.batch_sharding)
        n = self.num_devices
        index = jax.lax.axis_index(AXIS)

        def take(x):
            per_device = x.shape[0] // n
            return jax.lax.dynamic_slice_in_dim(x, index * per_device, per_device)

        return jax.tree.map(take, batch)

    def local_rng(self, rng: jax.Array) -> jax.Array:
        """Independent randomness per device under pmap; unchanged under jit."""
        if self.mode == "jit":
            return rng
        return jax.random.fold_in(rng, jax.lax.axis_index(AXIS))

    def reduce(self, tree: Any) -> Any:
        """Average floating leaves over devices (pmap); identity under jit."""
        if self.mode == "jit":
            return tree

        def mean(x):
            if jnp.issubdtype(x.dtype, jnp.floating):
                return jax.lax.pmean(x, AXIS)
            return x

        return jax.tree.map(mean, tree)


def make_data_parallel(mode: str, num_devices: int = 0) -> DataParallel:
    if mode not in PARALLEL_MODES:
        raise ValueError(
            f"parallel={mode!r} is not one of: {', '.join(PARALLEL_MODES)}"
        )
    return DataParallel(mode, make_mesh(num_devices))
