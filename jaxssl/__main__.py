"""``python -m jaxssl`` is the ``jaxssl`` command."""

import sys

from jaxssl.cli import main

sys.exit(main())
