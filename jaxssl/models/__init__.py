"""Flax Linen modules: MLPs, conv nets, encoders and decoders."""

from jaxssl.models.conv import ConvDecoder, ConvEncoder
from jaxssl.models.fewshot import (
    CONV4_NORMS,
    Conv4,
    FullContextEmbedding,
    TransductiveNorm,
    max_pool_2x2,
)
from jaxssl.models.layers import (
    ACTIVATIONS,
    CONV_IMPLS,
    Conv,
    conv_patches,
    get_activation,
)
from jaxssl.models.mlp import MLP, MLPDecoder, MLPEncoder
from jaxssl.models.resnet import ResNet12, ResNet18

AUTOENCODERS = ("mlp", "conv")
ENCODERS = (*AUTOENCODERS, "resnet18", "resnet12")

__all__ = [
    "ACTIVATIONS",
    "AUTOENCODERS",
    "CONV4_NORMS",
    "CONV_IMPLS",
    "ENCODERS",
    "MLP",
    "Conv",
    "Conv4",
    "FullContextEmbedding",
    "ConvDecoder",
    "ConvEncoder",
    "MLPDecoder",
    "MLPEncoder",
    "ResNet12",
    "ResNet18",
    "TransductiveNorm",
    "build_autoencoder",
    "build_encoder",
    "conv_patches",
    "max_pool_2x2",
]


def build_encoder(model_config, image_shape):
    """Build the encoder named by the ``model`` config section.

    ``"mlp"`` and ``"conv"`` are the encoders of ``build_autoencoder``;
    ``"resnet18"`` (CIFAR variant) and ``"resnet12"`` (few-shot) are
    encoder-only, with ``features`` as their stage widths when given and
    ``latent_dim`` as the output width (0: the pooled features).

    Raises:
      ValueError: ``model.name`` is not one of ``ENCODERS``.
    """
    name = model_config["name"]
    if name in ("resnet18", "resnet12"):
        cls = ResNet18 if name == "resnet18" else ResNet12
        kwargs = {"latent_dim": int(model_config.get("latent_dim", 0))}
        widths = model_config.get("resnet_widths")
        if widths:
            kwargs["widths"] = tuple(widths)
        return cls(**kwargs)
    if name not in AUTOENCODERS:
        raise ValueError(f"model.name={name!r} is not one of: {', '.join(ENCODERS)}")
    return build_autoencoder(model_config, image_shape)[0]


def build_autoencoder(model_config, image_shape):
    """Build an (encoder, decoder) pair from the ``model`` config section.

    Args:
      model_config: mapping with ``name`` ("mlp" or "conv"), ``latent_dim``,
        ``hidden`` (mlp widths) or ``features`` (conv channels),
        ``activation`` and ``conv_impl``.
      image_shape: (H, W, C) of the inputs, which the decoder reproduces.

    Returns:
      (encoder, decoder) Flax modules.

    Raises:
      ValueError: ``model.name`` is not an autoencoder (the ResNets have no
        decoder; encoder-only methods use ``build_encoder``).
    """
    name = model_config["name"]
    if name in ENCODERS and name not in AUTOENCODERS:
        raise ValueError(
            f"model.name={name!r} is an encoder without a decoder; autoencoders "
            f"need one of: {', '.join(AUTOENCODERS)}"
        )
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
        raise ValueError(
            f"model.name={name!r} is not one of: {', '.join(AUTOENCODERS)}"
        )
    return encoder, decoder
