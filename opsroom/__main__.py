"""`python -m opsroom`: the `opsroom` command (the entry layer, opsroom.app)."""

import sys

from opsroom.app.cli import main

sys.exit(main())
