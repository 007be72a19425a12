"""PySOA test plans: service tests written as ``.pysoa`` fixture files.

.. code-block:: python

    from pysoa.test.plan import ServicePlanTestCase

    class TestUserServicePlans(ServicePlanTestCase):
        server_class = UserServer
        server_settings = {}
        fixture_path = os.path.dirname(__file__) + '/fixtures'

The pytest plugin ``pysoa.test.plugins.pytest.plans`` (registered through the ``pytest11`` entry
point) collects every fixture test case of every ``ServicePlanTestCase`` subclass. The fixture
language is described in docs/testing.md ("Test plans"). It needs soa-core's ``testplan`` extra
(lark for the parser, freezegun for ``freeze time``).
"""

from __future__ import annotations

try:
    import freezegun  # noqa: F401
    import lark  # noqa: F401
except ImportError as exc:  # pragma: no cover - the workspace installs the extra
    raise ImportError(
        f"pysoa.test.plan needs soa-core's 'testplan' extra ({exc.name} is not installed): "
        "pip install 'soa-core[testplan]'"
    ) from exc

from pysoa.test.plan._case import FixtureTestCaseData, ServicePlanTestCase
from pysoa.test.plan._model import ActionCase, TestCase, TestFixture

__all__ = ["ActionCase", "FixtureTestCaseData", "ServicePlanTestCase", "TestCase", "TestFixture"]
