"""The soa command: serve, call, status and introspect, against real services."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator

import pytest

from pysoa.cli import main
from tests.runtime.conftest import REPO, Service, pid_alive

SOA = [sys.executable, "-m", "pysoa"]
LOCAL_RUNTIME = json.dumps(
    {"name": "local", "kwargs": {"server_class": "tests.runtime.service:RuntimeServer", "server_settings": {}}}
)


# --- soa serve ------------------------------------------------------------------------------------------


def test_soa_serve_runs_workers_that_answer_and_stop_on_sigterm(start_service: Callable[..., Service]) -> None:
    service = start_service(
        "-m", "pysoa", "serve", "tests.runtime.service:RuntimeServer", "--settings", "tests.runtime.settings",
        "--workers", "2",
    )  # fmt: skip
    workers = service.wait_for_workers(2)
    assert service.call("whoami")["actions"][0]["body"]["fid"] in (1, 2)
    service.send(signal.SIGTERM)
    assert service.wait() == 0
    assert not any(pid_alive(pid) for pid in workers.values())


@pytest.mark.parametrize("workers", [1, 2])
def test_soa_serve_warns_when_a_single_worker_would_serve_its_own_calls(
    start_service: Callable[..., Service], workers: int
) -> None:
    service = start_service(
        "-m", "pysoa", "serve", "tests.runtime.service:RuntimeServer", "--settings", "tests.runtime.settings",
        "--workers", str(workers), env={"RUNTIME_SELF_ROUTING": "1"},
    )  # fmt: skip
    service.wait_for_workers(workers)
    service.call("whoami")  # every worker is past its start-up by now
    service.send(signal.SIGTERM)
    assert service.wait() == 0
    warned = "routes request.client calls to itself" in service.log()
    assert warned is (workers == 1), service.log()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["tests.runtime.service:Nope", "--settings", "tests.runtime.settings"], "has no attribute 'Nope'"),
        (["tests.runtime.service", "--settings", "tests.runtime.settings"], "Name the server class as MODULE:CLASS"),
        (["tests.runtime.service:whoami", "--settings", "tests.runtime.settings"], "is not a Server subclass"),
        (["tests.runtime.service:RuntimeServer"], "Give the settings module with --settings MODULE"),
        (["tests.runtime.service:RuntimeServer", "-s", "tests.runtime.settings", "--watch", "x"], "only applies with"),
    ],
)
def test_soa_serve_reports_bad_arguments(
    arguments: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["serve", *arguments]) == 1
    assert message in capsys.readouterr().err


def test_soa_serve_rejects_zero_workers(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["serve", "tests.runtime.service:RuntimeServer", "-s", "tests.runtime.settings", "--workers", "0"])
    assert exit_info.value.code == 2
    assert "must be 1 or more" in capsys.readouterr().err


# --- soa call over the local transport (in this process) -------------------------------------------------------


def test_soa_call_prints_values_beyond_json_losslessly(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["call", "runtime", "types", "--transport", LOCAL_RUNTIME]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "when": "2024-02-29T13:45:30.123456+00:00",
        "day": "2024-02-29",
        "at": "13:45:00",
        "price": "12.3400",
        "money": "12.34 USD",
        "raw": "AP9zb2E=",
        "text": "naïve ☃",
    }


def test_soa_call_full_shows_the_job_response(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["call", "runtime", "whoami", "--full", "--correlation-id", "abc", "--transport", LOCAL_RUNTIME]) == 0
    response = json.loads(capsys.readouterr().out)
    assert response["errors"] == []
    assert response["context"] == {"correlation_id": "abc"}
    assert response["actions"][0]["action"] == "whoami"


def test_soa_call_with_action_errors_exits_1_and_prints_them(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["call", "runtime", "nope", "--transport", LOCAL_RUNTIME]) == 1
    out, err = capsys.readouterr()
    (error,) = json.loads(out)["errors"]
    assert error["code"] == "UNKNOWN"
    assert error["field"] == "action"
    assert 'runtime.nope failed:\n  UNKNOWN (field action): The action "nope" was not found on this server.' in err


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["{not json"], "BODY is not valid JSON"),
        (["[1, 2]"], "BODY must be a JSON object, not list"),
        (["--transport", "{bad"], "--transport is not valid JSON"),
        (["--transport", "carrier-pigeon"], "No client transport plugin named 'carrier-pigeon'"),
        (["--settings", "tests.runtime.no_such_module"], "Cannot import the settings module"),
        (
            ["--settings", "tests.runtime.settings"],
            "neither SOA_CLIENT_SETTINGS nor SOA_SERVER_SETTINGS['client_routing']",
        ),
    ],
)
def test_soa_call_bad_input_exits_2_with_a_message(
    arguments: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["call", "runtime", "whoami", *arguments]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert message in err


def test_soa_call_reads_the_body_from_stdin(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import io

    monkeypatch.setattr(sys, "stdin", io.StringIO('{"verbose": false}'))
    assert main(["call", "runtime", "status", "-", "--transport", LOCAL_RUNTIME]) == 0
    assert "healthcheck" not in json.loads(capsys.readouterr().out)


# --- against the example service, 2 workers over a private Redis ---------------------------------------------------


@pytest.fixture(scope="module")
def example_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from tests.redis_transport.servers import start_redis

    directory = tmp_path_factory.mktemp("example")
    redis = start_redis(directory / "redis")
    log = open(directory / "service.log", "wb")  # noqa: SIM115 - closed below, after the process
    service = subprocess.Popen(
        [sys.executable, "-m", "example_service.standalone", "-s", "example_service.settings", "-f", "2"],
        cwd=REPO, env={**os.environ, "REDIS_URL": redis.url}, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    try:
        yield redis.url
    finally:
        service.send_signal(signal.SIGTERM)
        try:
            service.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(service.pid, signal.SIGKILL)
            service.wait()
        log.close()
        redis.stop()


def soa(*arguments: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*SOA, *arguments], cwd=REPO, env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=60
    )


@pytest.mark.redis
def test_soa_call_against_the_running_example_service(example_service: str) -> None:
    result = soa("call", "example", "square", '{"number": 7}', "--redis", example_service)
    assert (result.returncode, json.loads(result.stdout)) == (0, {"square": 49}), result.stderr
    # call_service calls square through the other worker, carrying the correlation id along.
    result = soa(
        "call", "example", "call_service", '{"number": 3}', "--correlation-id", "c-1", "--redis", example_service
    )
    assert json.loads(result.stdout) == {"square": 9, "correlation_id": "c-1"}


@pytest.mark.redis
def test_soa_call_with_the_service_settings_module(example_service: str) -> None:
    result = soa(
        "call", "example", "square", '{"number": 1.5}', "--settings", "example_service.settings",
        env={"REDIS_URL": example_service},
    )  # fmt: skip
    assert json.loads(result.stdout) == {"square": 2.25}, result.stderr


@pytest.mark.redis
def test_soa_call_validation_errors_exit_1(example_service: str) -> None:
    result = soa("call", "example", "square", '{"number": "seven"}', "--redis", example_service)
    assert result.returncode == 1
    assert {e["code"] for e in json.loads(result.stdout)["errors"]} == {"INVALID"}
    assert "example.square failed:\n  INVALID (field number)" in result.stderr


@pytest.mark.redis
def test_soa_call_to_a_service_nobody_serves_exits_3(example_service: str) -> None:
    result = soa("call", "nobody", "square", "--redis", example_service, "--timeout", "0.5")
    assert result.returncode == 3
    assert "could not reach service 'nobody': MessageReceiveTimeout" in result.stderr


@pytest.mark.redis
def test_soa_status_and_introspect(example_service: str) -> None:
    result = soa("status", "example", "--redis", example_service)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("example: version 1.0.0, soa-core ")
    assert "  WARNING TURBOENCABULATOR_WARM: The turboencabulator is running warm\n" in result.stdout
    result = soa("status", "example", "--json", "--no-checks", "--redis", example_service)
    assert "healthcheck" not in json.loads(result.stdout)
    result = soa("introspect", "example", "square", "--redis", example_service)
    described = json.loads(result.stdout)
    assert described["action_names"] == ["square"]
    assert described["actions"]["square"]["documentation"] == "Squares a number."
    result = soa("introspect", "example", "nope", "--redis", example_service)
    assert result.returncode == 1
    assert "INVALID (field action_name)" in result.stderr


@pytest.mark.redis
def test_soa_status_runtime_reports_the_answering_workers_figures(example_service: str) -> None:
    from pysoa.client import Client

    client = Client({"example": {"transport": {"name": "redis", "kwargs": {"url": example_service}}}})
    for number in range(4):
        client.call_action("example", "square", {"number": number}, timeout=10)
    client.close()
    result = soa("status", "example", "--json", "--no-checks", "--runtime", "--redis", example_service)
    assert result.returncode == 0, result.stderr
    runtime = json.loads(result.stdout)["runtime"]
    assert runtime["in_flight"] == 1
    assert pid_alive(runtime["pid"])  # one of the two workers answered, with its own figures
    assert runtime["uptime_seconds"] > 0
    # Other tests share these workers: which actions this one served varies; the figures hold for each.
    for figures in runtime["actions"].values():
        assert figures["count"] >= 1
        assert 0 <= figures["p50_ms"] <= figures["p99_ms"] <= figures["max_ms"]
    result = soa("status", "example", "--no-checks", "--runtime", "--redis", example_service)
    assert result.returncode == 0, result.stderr
    assert "worker pid " in result.stdout
    assert "in flight (this one included)" in result.stdout


def test_soa_help_lists_every_command() -> None:
    result = soa("--help")
    listed = {line.split()[0] for line in result.stdout.splitlines() if line.startswith("    ")}
    assert {"serve", "call", "status", "introspect", "plugins"} <= listed
