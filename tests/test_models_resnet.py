"""ResNet-18 (CIFAR) and ResNet-12 (few-shot) encoders."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxssl.models import ResNet12, ResNet18, build_autoencoder, build_encoder


def _random_params(module, images):
    """Random weights of the right shapes, without compiling the initialisers
    (XLA:CPU takes tens of seconds to compile a ResNet's ``init``)."""
    shapes = jax.eval_shape(module.init, jax.random.key(0), images)
    rng = np.random.default_rng(0)
    return jax.tree.map(
        lambda s: (0.2 * rng.standard_normal(s.shape)).astype(np.float32), shapes
    )


def _num_params(module, shape):
    variables = jax.eval_shape(module.init, jax.random.key(0), jnp.zeros(shape))
    return sum(int(np.prod(leaf.shape)) for leaf in jax.tree.leaves(variables))


def test_resnet18_cifar_parameter_count():
    # The CIFAR ResNet-18 without its classifier has 11,168,832 weights with
    # BatchNorm; GroupNorm has the same number (a scale and bias per channel).
    assert _num_params(ResNet18(), (1, 32, 32, 3)) == 11_168_832


def test_resnet12_parameter_count():
    # Four blocks of three 3x3 convs + 1x1 shortcut, three norms + shortcut norm.
    widths, cin, expected = (64, 160, 320, 640), 3, 0
    for w in widths:
        expected += 9 * cin * w + 9 * w * w * 2 + cin * w + 4 * 2 * w
        cin = w
    assert _num_params(ResNet12(), (1, 84, 84, 3)) == expected


def test_build_encoder_resnet18():
    config = {"name": "resnet18", "latent_dim": 8, "resnet_widths": (8, 8, 16, 16)}
    encoder = build_encoder(config, (32, 32, 3))
    assert isinstance(encoder, ResNet18)
    assert (encoder.latent_dim, tuple(encoder.widths)) == (8, (8, 8, 16, 16))


@pytest.mark.parametrize("name", ["resnet18", "resnet12"])
def test_encoder_shapes_and_per_example(name):
    if name == "resnet18":  # Shallow: the compile time of 8 blocks adds nothing.
        encoder = ResNet18(latent_dim=8, widths=(8, 16), blocks=(1, 1))
    else:
        config = {"name": name, "latent_dim": 8, "resnet_widths": (8, 16, 16, 32)}
        encoder = build_encoder(config, (16, 16, 3))
    images = jax.random.uniform(jax.random.key(1), (3, 16, 16, 3))
    params = _random_params(encoder, images)
    out = jax.jit(encoder.apply)(params, images)
    chex.assert_shape(out, (3, 8))
    chex.assert_tree_all_finite(out)
    # Batch-free norms: an example's features do not depend on its batch.
    single = jax.jit(encoder.apply)(params, images[1:2])
    np.testing.assert_allclose(single[0], out[1], rtol=1e-4, atol=1e-5)


def test_resnet18_pooled_features_when_latent_dim_zero():
    encoder = ResNet18(widths=(8, 16), blocks=(1, 1))
    out = jax.eval_shape(
        lambda x: encoder.apply(encoder.init(jax.random.key(0), x), x),
        jnp.ones((2, 8, 8, 1)),
    )
    chex.assert_shape(out, (2, 16))


def test_errors_name_the_field():
    with pytest.raises(ValueError, match="model.name='vgg'.*resnet18"):
        build_encoder({"name": "vgg"}, (32, 32, 3))
    with pytest.raises(ValueError, match="no decoder|without a decoder"):
        build_autoencoder({"name": "resnet18", "latent_dim": 8}, (32, 32, 3))
    with pytest.raises(ValueError, match="at least 16x16"):
        ResNet12().init(jax.random.key(0), jnp.zeros((1, 8, 8, 1)))
