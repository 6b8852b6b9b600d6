"""Flax Linen modules: MLPs, conv nets, encoders and decoders."""

from jaxssl.models.conv import ConvDecoder, ConvEncoder
from jaxssl.models.fewshot import CONV4_NORMS, Conv4, TransductiveNorm, max_pool_2x2
from jaxssl.models.layers import (
    ACTIVATIONS,
    CONV_IMPLS,
    Conv,
    conv_patches,
    get_activation,
)
from jaxssl.models.mlp import MLP, MLPDecoder, MLPEncoder

ENCODERS = ("mlp", "conv")

__all__ = [
    "ACTIVATIONS",
    "CONV4_NORMS",
    "CONV_IMPLS",
    "ENCODERS",
    "MLP",
    "Conv",
    "Conv4",
    "ConvDecoder",
    "ConvEncoder",
    "MLPDecoder",
    "MLPEncoder",
    "TransductiveNorm",
    "build_autoencoder",
    "conv_patches",
    "max_pool_2x2",
]


def build_autoencoder(model_config, image_shape):
    """Build an (encoder, decoder) pair from the ``model`` config section.

    Args:
      model_config: mapping with ``name`` ("mlp" or "conv"), ``latent_dim``,
        ``hidden`` (mlp widths) or ``features`` (conv channels),
        ``activation`` and ``conv_impl``.
      image_shape: (H, W, C) of the inputs, which the decoder reproduces.

    Returns:
      (encoder, decoder) Flax modules.
    """
    name = model_config["name"]
    common = dict(activation=model_config.get("activation", "relu"))
    get_activation(common["activation"])  # Fail at build time, naming the field.
    if name == "mlp":
        hidden = tuple(model_config.get("hidden", (256,)))
        encoder = MLPEncoder(hidden, model_config["latent_dim"], **common)
        decoder = MLPDecoder(tuple(image_shape), tuple(reversed(hidden)), **common)
    elif name == "conv":
        features = tuple(model_config.get("features", (32, 64)))
        impl = model_config.get("conv_impl", "lax")
        if impl not in CONV_IMPLS:
            raise ValueError(f"model.conv_impl={impl!r} is not one of: {CONV_IMPLS}")
        encoder = ConvEncoder(
            features, model_config["latent_dim"], conv_impl=impl, **common
        )
        decoder = ConvDecoder(tuple(image_shape), features, conv_impl=impl, **common)
    else:
        raise ValueError(f"model.name={name!r} is not one of: {', '.join(ENCODERS)}")
    return encoder, decoder
