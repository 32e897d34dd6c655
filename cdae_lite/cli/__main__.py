"""``python -m cdae_lite.cli`` is ``cdae-lite``."""

import sys

from cdae_lite.cli import main

sys.exit(main())
