"""Django pieces for services with ``use_django = True`` (see also :mod:`pysoa.server.django_support`)."""

from __future__ import annotations
