"""Models: the patches conv equals lax.conv; encoders/decoders have the right shapes."""

import chex
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from jaxssl import models


@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("size", [8, 7])
def test_conv_patches_matches_lax(stride, size):
    rng_x, rng_k = jax.random.split(jax.random.key(0))
    x = jax.random.normal(rng_x, (2, size, size, 3))
    kernel = jax.random.normal(rng_k, (3, 3, 3, 5))
    want = jax.lax.conv_general_dilated(
        x, kernel, (stride, stride), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC")
    )
    got = models.conv_patches(x, kernel, stride)
    chex.assert_shape(got, want.shape)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_conv_module_impls_share_params():
    x = jax.random.uniform(jax.random.key(1), (2, 8, 8, 1))
    lax_conv = models.Conv(4, strides=2, impl="lax")
    params = lax_conv.init(jax.random.key(2), x)
    want = lax_conv.apply(params, x)
    got = models.Conv(4, strides=2, impl="patches").apply(params, x)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_conv_module_rejects_unknown_impl():
    with pytest.raises(ValueError, match="conv_impl='fft'"):
        models.Conv(4, impl="fft").init(jax.random.key(0), jnp.zeros((1, 4, 4, 1)))


@pytest.mark.parametrize("name", ["mlp", "conv"])
@pytest.mark.parametrize("shape", [(8, 8, 1), (28, 28, 1)])
def test_build_autoencoder_shapes(name, shape):
    cfg = ml_collections.ConfigDict(
        dict(name=name, latent_dim=6, hidden=(16,), features=(4, 8), activation="relu")
    )
    encoder, decoder = models.build_autoencoder(cfg, shape)
    x = jnp.zeros((3, *shape))
    enc_params = encoder.init(jax.random.key(0), x)
    codes = encoder.apply(enc_params, x)
    chex.assert_shape(codes, (3, 6))
    out = decoder.apply(decoder.init(jax.random.key(1), codes), codes)
    chex.assert_shape(out, (3, *shape))


def test_build_autoencoder_errors_name_field():
    cfg = ml_collections.ConfigDict(dict(name="transformer", latent_dim=4))
    with pytest.raises(
        ValueError, match="model.name='transformer' is not one of: mlp, conv"
    ):
        models.build_autoencoder(cfg, (8, 8, 1))
    cfg = ml_collections.ConfigDict(dict(name="mlp", latent_dim=4, activation="swish2"))
    with pytest.raises(ValueError, match="model.activation='swish2'"):
        models.build_autoencoder(cfg, (8, 8, 1))


def test_conv_rejects_indivisible_size():
    encoder = models.ConvEncoder(features=(4, 8, 16), latent_dim=2)
    with pytest.raises(ValueError, match="divisible"):
        encoder.init(jax.random.key(0), jnp.zeros((1, 28, 28, 1)))
