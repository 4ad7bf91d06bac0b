"""``python -m channels.cli``: the ``servicewire`` command."""

import sys

from . import main

sys.exit(main())
