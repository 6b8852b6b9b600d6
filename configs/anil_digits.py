"""ANIL on digits: maml_digits whose inner loop adapts only the linear head.

Launch:
  jaxssl train configs/anil_digits.py --workdir runs/anil_digits
"""

from jaxssl.config_utils import load_sibling


def get_config():
    config = load_sibling(__file__, "maml_digits")
    config.method.name = "anil"
    return config
