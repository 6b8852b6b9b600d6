"""Smoke test of benchmarks/maml_speed_bench.py on tiny shapes.

Every variant's first meta-gradient (second-order MAML, conv4 with
transductive batch norm) must match the vmapped JAX one from the same initial
weights: the Python loop and ``lax.map`` over tasks in JAX, and the PyTorch
variants (skipped without PyTorch) with the JAX weights copied in.

Marked slow: compiling the second-order inner loops takes 15-30 s of CPU even
at these shapes. Run with
``pytest -m slow -p no:cacheprovider tests/test_bench_maml_speed.py``.
"""

import dataclasses

import jax
import pytest

from benchmarks import maml_speed_bench as bench

pytestmark = pytest.mark.slow

# Tiny: 2 conv blocks on 8x8 images, 4 channels, 2 tasks, 2 inner steps.
SETTING = dataclasses.replace(
    bench.QUICK, features=4, image_size=8, num_blocks=2, tasks=2, query=1
)


@pytest.fixture(scope="module")
def runners():
    params = jax.device_get(bench.MamlConv4(SETTING).init(jax.random.key(0)))
    tasks = bench.make_tasks(SETTING, seed=0)
    variants = ["jax_vmap", "jax_python_loop"]
    if bench.torch_available():
        variants += list(bench.TORCH_VARIANTS)
    return {v: bench.build_runner(v, SETTING, params, tasks) for v in variants}


def test_python_loop_matches_vmap(runners):
    reference = runners["jax_vmap"].first_grads
    error = bench.relative_error(runners["jax_python_loop"].first_grads, reference)
    assert error < 1e-5, error
    loss = runners["jax_python_loop"].run_step()
    assert float(loss) == pytest.approx(float(runners["jax_vmap"].run_step()), rel=1e-5)


@pytest.mark.parametrize("variant", bench.TORCH_VARIANTS)
def test_torch_matches_jax(runners, variant):
    if variant not in runners:
        pytest.skip("PyTorch is not installed")
    reference = runners["jax_vmap"].first_grads
    error = bench.relative_error(runners[variant].first_grads, reference)
    assert error < 1e-4, error
