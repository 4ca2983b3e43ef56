"""Entry point of ``python -m sso_api.testing``; see :mod:`sso_api.testing.cli`."""

import sys

from .cli import main

sys.exit(main())
