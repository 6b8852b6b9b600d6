"""First-order MAML (FOMAML) on digits: maml_digits with the inner gradients
stopped.

Launch:
  jaxssl train configs/fomaml_digits.py --workdir runs/fomaml_digits
"""

from jaxssl.config_utils import load_sibling


def get_config():
    config = load_sibling(__file__, "maml_digits")
    config.method.first_order = True
    return config
