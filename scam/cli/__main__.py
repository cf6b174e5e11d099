"""``python -m scam.cli``: the ``scam`` command."""

import sys

from . import main

sys.exit(main())
