"""The pytest fixtures plugin, as users get it: loaded by its ``pytest11`` entry point in a separate pytest run."""

from __future__ import annotations

import textwrap

import pytest

pytest_plugins = ["pytester"]

SERVICE = textwrap.dedent(
    """
    from pysoa.server import Server


    def square(request):
        return {"square": request.body["number"] ** 2}


    def ask_helper(request):
        return request.client.call_action("helper", "lookup", {"key": request.body["key"]}).body


    def settings(request):
        return {"redact": sorted(request._server.settings["extra_fields_to_redact"])}


    class SquareServer(Server):
        service_name = "squares"
        action_class_map = {"square": square, "ask_helper": ask_helper, "settings": settings}
    """
)


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(square_service=SERVICE)
    pytester.makeconftest(
        """
        import pytest

        from square_service import SquareServer


        @pytest.fixture(scope="module")
        def server_class():
            return SquareServer
        """
    )
    return pytester


def test_fixtures_call_the_service_and_stub_actions(project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    project.makepyfile(square_settings="SOA_SERVER_SETTINGS = {}")
    monkeypatch.setenv("PYSOA_SETTINGS_MODULE", "square_settings")
    project.makepyfile(
        test_service="""
        import pytest

        from pysoa.errors import CallActionError


        def test_call_action_defaults_the_service(service_client):
            assert service_client.call_action("square", {"number": 4}).body == {"square": 16}
            assert service_client.call_action("square", {"number": 5}, service_name="squares").body == {"square": 25}


        def test_other_call_methods_are_the_clients(service_client):
            job = service_client.call_actions("squares", [{"action": "square", "body": {"number": 2}}])
            assert job.actions[0].body == {"square": 4}


        def test_action_stubber(service_client, action_stubber):
            lookup = action_stubber("helper", "lookup", body={"value": 1})
            assert service_client.call_action("ask_helper", {"key": "k"}).body == {"value": 1}
            assert lookup.call_body == {"key": "k"}
            failing = action_stubber("helper", "lookup", errors=[{"code": "NOPE", "message": "no"}])
            with pytest.raises(CallActionError):
                service_client.call_action("ask_helper", {"key": "k"})
            assert failing.call_count == 1
            effect = action_stubber("squares", "square", side_effect=lambda body: {"square": -body["number"]})
            assert service_client.call_action("square", {"number": 3}).body == {"square": -3}
            assert effect.call_count == 1


        def test_stubs_end_with_their_test(service_client):
            with pytest.raises(CallActionError):
                service_client.call_action("ask_helper", {"key": "k"})  # helper is not configured any more


        def test_settings_module(server_settings):
            assert server_settings == {}
        """
    )
    result = project.runpytest_subprocess("-W", "error", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=5)


@pytest.mark.parametrize(
    ("module", "message"),
    [
        (None, "PYSOA_SETTINGS_MODULE environment variable must be set to run tests."),
        ("no_such_settings", "Could not import PYSOA_SETTINGS_MODULE: no_such_settings"),
        ("square_service", "Could not access square_service.SOA_SERVER_SETTINGS or square_service.settings"),
    ],
)
def test_server_settings_without_a_usable_source_fail_as_in_pysoa(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, module: str | None, message: str
) -> None:
    project.makepyfile(
        test_service="""
        def test_settings(server_settings):
            pass
        """
    )
    if module is None:
        monkeypatch.delenv("PYSOA_SETTINGS_MODULE", raising=False)
    else:
        monkeypatch.setenv("PYSOA_SETTINGS_MODULE", module)
    result = project.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([f"E   *AssertionError: {message}*"])


def test_settings_come_from_the_settings_module(project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    project.makepyfile(my_settings='SOA_SERVER_SETTINGS = {"extra_fields_to_redact": {"pin"}}')
    project.makepyfile(
        test_settings="""
        def test_settings(service_client):
            assert service_client.call_action("settings").body == {"redact": ["pin"]}
        """
    )
    monkeypatch.setenv("PYSOA_SETTINGS_MODULE", "my_settings")
    result = project.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_plugin_is_harmless_when_unused(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_plain="""
        import sys


        def test_nothing_heavy_was_imported():
            assert "pysoa.test.plugins.pytest.fixtures" in sys.modules
            assert "pysoa.client" not in sys.modules
            assert "pysoa.server" not in sys.modules
        """
    )
    result = pytester.runpytest_subprocess("-W", "error", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_fixtures_report_a_missing_server_class(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_missing="""
        def test_needs_service(service_client):
            pass
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*fixture 'server_class' not found*"])
