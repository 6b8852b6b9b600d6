"""Matching Networks (cosine attention) on digits.

The protonet_digits setting (base classes 0-4, novel 5-9, 2-block conv4)
with Matching Networks' objective. ``method.fce=True`` adds the full-context
embeddings (a bidirectional LSTM over the support set and an attention LSTM
of ``method.fce_steps`` steps over the queries); off by default.

Launch:
  jaxssl train configs/matching_digits.py --workdir runs/matching_digits
  jaxssl train configs/matching_digits.py --workdir runs/matching_fce_digits \
      --config.method.fce=True
"""

from jaxssl.config_utils import load_sibling


def get_config():
    config = load_sibling(__file__, "protonet_digits")
    # Temperature divides the cosines (1 in the paper; sharper attention trains
    # faster).
    config.method = dict(name="matching", temperature=0.1, fce=False, fce_steps=5)
    return config
