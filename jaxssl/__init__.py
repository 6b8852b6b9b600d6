"""jaxssl: learning from unlabeled and barely labeled data, in JAX/Flax."""

__version__ = "0.1.0"
