"""``python -m pysoa`` runs the ``soa`` command."""

from __future__ import annotations

from pysoa.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
