"""Autoencoder training speed: data on the device vs a host-side NumPy loop.

Both loops run the same jitted update (``train.apply_update``); they differ
only in where batches come from:

* ``data_on_device``: the uint8 dataset lives on the device and each step
  samples, gathers and normalises its batch inside the jitted step
  (``train.train_step``, the trainer's own path).
* ``host_numpy_batching``: a classic loop, ``HostBatcher`` shuffles and
  slices float32 NumPy batches on the host, transferred every step.

Run (records to benchmarks/results/speed.jsonl):
  python -m benchmarks.speed_autoencoder \
      --datasets digits,idx:/usr/share/datasets/fashion-mnist
"""

from __future__ import annotations

import argparse
import functools
import time

import jax

from benchmarks.record import append_record
from jaxssl import data as data_lib
from jaxssl import train
from tests.helpers import load_config


def _experiment(dataset: str, batch_size: int):
    config = load_config("autoencoder_digits")
    config.input.dataset = dataset
    config.input.batch_size = batch_size
    config.num_devices = 1
    return config, train.build_experiment(config)


def _time(step, state, feed, steps: int, warmup: int = 20):
    for _ in range(warmup):
        state, metrics = step(state, *feed())
    jax.block_until_ready(state)
    start = time.perf_counter()
    for _ in range(steps):
        state, metrics = step(state, *feed())
    jax.block_until_ready((state, metrics))
    return steps / (time.perf_counter() - start)


def bench(dataset: str, batch_size: int, steps: int) -> list[dict]:
    config, exp = _experiment(dataset, batch_size)
    dp = exp.parallel
    rng_init, rng_train = jax.random.split(jax.random.key(0))
    ds = exp.dataset

    # Data on the device: the trainer's own step.
    state = dp.put_replicated(train.init_state(exp, rng_init))
    device_data = train.place_data(exp)
    step = train.compile_train_step(exp)
    on_device = _time(step, state, lambda: (device_data, rng_train), steps)

    # Host-side NumPy batching feeding the same update.
    state = dp.put_replicated(train.init_state(exp, rng_init))
    update = jax.jit(
        functools.partial(
            train.apply_update, parallel=dp, method=exp.method, tx=exp.tx
        ),
        donate_argnums=(0,),
    )
    batches = iter(
        data_lib.HostBatcher(ds.train_images, ds.train_labels, batch_size, seed=0)
    )
    host = _time(update, state, lambda: (next(batches), rng_train), steps)

    records = []
    common = dict(
        method="autoencoder",
        dataset=ds.name,
        metric="steps_per_sec",
        steps=steps,
        config="configs/autoencoder_digits.py "
        f"(input.dataset={dataset}, input.batch_size={batch_size}, MLP 256-128-32)",
    )
    for setting, value in (
        ("data_on_device", on_device),
        ("host_numpy_batching", host),
    ):
        records.append(
            append_record(
                "speed",
                setting=f"{setting}, batch {batch_size}",
                value=round(value, 1),
                wall_s=round(steps / value, 2),
                **common,
            )
        )
    return records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", default="digits")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=500)
    args = parser.parse_args()
    for dataset in args.datasets.split(","):
        for record in bench(dataset, args.batch_size, args.steps):
            print(
                f"{record['dataset']:>14s} {record['setting']:>32s}: "
                f"{record['value']:8.1f} steps/s"
            )


if __name__ == "__main__":
    main()
