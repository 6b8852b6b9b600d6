"""Meta-learning: MAML-family inner loops and few-shot episode construction."""

from jaxssl.meta.maml import (
    maml_adapt,
    maml_loss,
    meta_sgd_adapt,
    meta_sgd_init,
    meta_sgd_loss,
)

__all__ = [
    "maml_adapt",
    "maml_loss",
    "meta_sgd_adapt",
    "meta_sgd_init",
    "meta_sgd_loss",
]
