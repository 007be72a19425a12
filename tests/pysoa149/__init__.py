"""Tooling for interop with the real PySOA 1.4.9: its venv (env.py), peer programs, and the harness that runs them."""
