"""``python -m bench`` (from the repository root): see bench/README.md."""

from __future__ import annotations

import sys

from bench._cli import main

sys.exit(main())
