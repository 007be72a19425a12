"""A small Django project (SQLite) whose service uses ``use_django = True``; see tests/runtime/test_django.py."""
