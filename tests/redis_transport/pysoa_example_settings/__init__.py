"""Settings modules in the form of PySOA 1.4's example service (``settings/base.py`` + ``settings/dev.py``).

Written as a PySOA user wrote them: PySOA module paths and constants only, nothing from soa-core's own API.
"""
