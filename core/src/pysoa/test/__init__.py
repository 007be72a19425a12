"""Test utilities for services and for code that calls services.

* :mod:`pysoa.test.server`: ``PyTestServerTestCase`` / ``UnitTestServerTestCase``, which run a
  service in-process over the local transport (``soa-local``) and call its actions.
* :mod:`pysoa.test.stub_service`: ``stub_action`` (replace one action of any service with a mock,
  wherever the call is made from) and ``StubClient`` (a client whose services are all stubs).
* :mod:`pysoa.test.assertions`: pytest context managers asserting the errors a call fails with.
* ``pysoa.test.plugins.pytest.fixtures``: a pytest plugin (loaded automatically) with the
  ``service_client`` and ``action_stubber`` fixtures.

Importing this package imports nothing else: it is imported by pytest at start-up.
"""

from __future__ import annotations
