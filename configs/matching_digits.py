"""Matching Networks (cosine attention, no full-context embeddings) on digits.

The protonet_digits setting (base classes 0-4, novel 5-9, 2-block conv4)
with Matching Networks' objective.

Launch:
  jaxssl train configs/matching_digits.py --workdir runs/matching_digits
"""

from jaxssl.config_utils import load_sibling


def get_config():
    config = load_sibling(__file__, "protonet_digits")
    # Temperature divides the cosines (1 in the paper; sharper attention trains
    # faster).
    config.method = dict(name="matching", temperature=0.1)
    return config
