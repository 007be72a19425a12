"""A test module written the PySOA 1.4 way, run by pytest as a separate session: it must import and pass."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

# Written as a PySOA 1.4 suite would be: PySOA's import paths, unittest-era names, stacked decorators.
SUITE = """
from parameterized import parameterized

from pysoa.client.client import Client
from pysoa.common.types import ActionResponse
from pysoa.server.action import Action
from pysoa.server.errors import ActionError
from pysoa.common.errors import Error
from pysoa.server.server import Server
from pysoa.test.compatibility import mock
from pysoa.test.factories import ActionFactory, ServerFactory
from pysoa.test.server import ServerTestCase
from pysoa.test.stub_service import stub_action


class LookupAction(Action):
    def run(self, request):
        user = request.client.call_action("user", "get_user", {"id": request.body["id"]})
        return {"name": user.body["name"]}


class GreeterServer(Server):
    service_name = "greeter"
    action_class_map = {
        "lookup": LookupAction,
        "hello": ActionFactory(body={"greeting": "hello"}),
        "broken": ActionFactory(exception=ActionError(errors=[Error(code="BROKEN", message="b")])),
    }


class GreeterServerFactory(ServerFactory):
    class Meta:
        model = GreeterServer


def greeting_text():
    return "real"


@stub_action("user", "get_user", body={"name": "Ada"})
class TestGreeter(ServerTestCase):
    server_class = GreeterServer
    server_settings = {}

    def setUp(self):
        self.prefix = "Dear "

    def test_lookup(self, stub_get_user):
        response = self.call_action("lookup", {"id": 1})
        self.assertEquals(response.body, {"name": "Ada"})
        self.assertEqual(stub_get_user.call_body, {"id": 1})
        self.assert_(self.prefix)

    @parameterized.expand([(1,), (2,)])
    @stub_action("audit", "record", side_effect=lambda body: {"recorded": body["id"]})
    @mock.patch(__name__ + ".greeting_text", return_value="patched")
    def test_expanded(self, user_id, patched, stub_record, stub_get_user):
        self.assertEqual(greeting_text(), "patched")
        self.assertEqual(self.client.call_action("audit", "record", {"id": user_id}).body, {"recorded": user_id})
        self.assertEqual(self.call_action("lookup", {"id": user_id}).body, {"name": "Ada"})
        self.failUnlessEqual(stub_record.call_count, 1)
        self.failUnless(stub_get_user.called)

    def test_errors_and_context_objects(self, stub_get_user):
        self.assertActionRunsWithErrorCodes("broken", {}, "BROKEN")
        with self.assertRaises(KeyError) as context:
            {}["missing"]
        self.assertIsInstance(context.exception, KeyError)
        self.assertIs(context.value, context.exception)
        self.assertItemsEqual([1, 2], [2, 1])
        self.assertRegexpMatches("hello world", "wor")

    def test_a_failing_stub_fails_the_calling_action(self, stub_get_user):
        with stub_action("user", "get_user", errors=[{"code": "NOT_FOUND", "message": "no"}]) as stub:
            errors = self.assertActionRunsWithAndReturnErrors("lookup", {"id": 3})
        self.assertEqual(stub.call_count, 1)
        self.assertEqual(errors[0].code, "SERVER_ERROR")  # the lookup action did not catch the call error


def test_server_factory():
    server = GreeterServerFactory()
    assert isinstance(server, GreeterServer)
    assert server.settings["transport"]["object"].__name__ == "LocalServerTransport"
"""


def test_a_pysoa_style_suite_imports_and_passes(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_pysoa_suite=SUITE)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-W", "ignore::DeprecationWarning")
    result.assert_outcomes(passed=6)
