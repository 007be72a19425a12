"""The soa-core benchmark suite: soa-core against PySOA 1.4.9, the raw Redis and ZeroMQ floors, zerorpc and Pyro5.

Run it from the repository root with ``make bench`` (or ``.venv/bin/python -m bench``); see bench/README.md.
"""
