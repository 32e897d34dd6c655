"""``python -m cdae_lite.paper``: see :mod:`cdae_lite.paper.command`."""

import sys

from cdae_lite.paper.command import main

sys.exit(main())
