"""Hypothesis profiles for the whole suite (selected with the ``HYPOTHESIS_PROFILE`` environment variable).

``ci`` (the default, what ``make test`` runs): derandomized, so each property test tries the same
examples on every run and machine; a counterexample fails every run until it is fixed, instead of
now and then. ``explore`` (``make explore``): fresh random examples on every run, and failures are
kept in ``.hypothesis/`` and replayed first next time; run it to look for new counterexamples, then
turn each one into an ``@example`` so that ``ci`` checks it for good.
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
settings.register_profile("explore", derandomize=False, max_examples=2000, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# The session's event loop thread for AsyncClient-driven contract suites (tests/aio/blocking.py).
from tests.aio.blocking import event_loop_thread  # noqa: E402, F401
