"""Every call keeps its deadline over Redis: never early, at most a little late, whatever Redis does.

Each test also checks that later calls on the same client succeed once Redis behaves again.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable
from functools import partial
from pathlib import Path

import pytest

from pysoa.errors import MessageReceiveTimeout, MessageSendTimeout, TransientTransportError
from tests.redis_transport.servers import RedisProcess

from .conftest import LATE, SilentListener, Worker, answers_ping, redis_client, timed, wait_for, wait_until_served
from .service import SERVICE

pytestmark = pytest.mark.redis


@pytest.mark.slow
def test_a_6_s_action_called_with_timeout_10_succeeds(
    redis_server: RedisProcess, start_worker: Callable[..., Worker]
) -> None:
    # One BLPOP waits at most 5 s: this call needs two, and must not give up after the first.
    transport = {"url": redis_server.url}
    worker = start_worker(transport)
    client = redis_client(transport)
    wait_until_served(client, worker)
    took, response, error = timed(lambda: client.call_action(SERVICE, "sleep", {"seconds": 6}, timeout=10))
    assert error is None
    assert response.body["slept"] == 6
    assert 6.0 <= took < 8.0


@pytest.mark.slow
def test_soa_call_with_timeout_10_waits_for_a_6_s_action(
    redis_server: RedisProcess, start_worker: Callable[..., Worker], capsys: pytest.CaptureFixture[str]
) -> None:
    from pysoa.cli import main

    worker = start_worker({"url": redis_server.url})
    wait_until_served(redis_client({"url": redis_server.url}), worker)
    capsys.readouterr()
    took, status, error = timed(
        lambda: main(["call", SERVICE, "sleep", '{"seconds": 6}', "--redis", redis_server.url, "--timeout", "10"])
    )
    assert error is None
    assert status == 0, capsys.readouterr()
    assert '"slept": 6' in capsys.readouterr().out
    assert 6.0 <= took < 8.0


@pytest.mark.slow
def test_the_receive_timeout_setting_is_honoured_past_one_blocking_slice(
    redis_server: RedisProcess, start_worker: Callable[..., Worker]
) -> None:
    transport = {"url": redis_server.url}
    worker = start_worker(transport)
    client = redis_client({**transport, "receive_timeout_in_seconds": 10})
    wait_until_served(client, worker)
    took, response, error = timed(lambda: client.call_action(SERVICE, "sleep", {"seconds": 5.5}))
    assert error is None
    assert response.body["slept"] == 5.5
    assert 5.5 <= took < 7.5


def test_a_call_to_a_redis_that_never_answers_fails_at_its_deadline(silent_listener: SilentListener) -> None:
    client = redis_client({"url": f"redis://127.0.0.1:{silent_listener.port}/0"})
    for timeout in (1.0, 0.3):
        took, _, error = timed(partial(client.call_action, SERVICE, "echo", {}, timeout=timeout))
        assert isinstance(error, MessageSendTimeout | MessageReceiveTimeout), error
        assert timeout <= took <= timeout + LATE, took
        assert f"127.0.0.1:{silent_listener.port}" in str(error)
    assert silent_listener.accepted  # it did connect: the handshake, not the connect, hung


def test_a_connect_that_hangs_is_bounded_by_the_call_not_socket_connect_timeout(unreachable_port: int) -> None:
    client = redis_client({"url": f"redis://127.0.0.1:{unreachable_port}/0"})  # socket_connect_timeout 5 s
    took, _, error = timed(lambda: client.call_action(SERVICE, "echo", {}, timeout=0.5))
    assert isinstance(error, MessageSendTimeout | TransientTransportError), error
    assert 0.5 <= took <= 0.5 + LATE, took
    assert f"127.0.0.1:{unreachable_port}" in str(error)


def test_a_frozen_redis_cannot_stretch_a_call_and_later_calls_succeed(
    redis_server: RedisProcess, start_worker: Callable[..., Worker], tmp_path: Path
) -> None:
    transport = {"url": redis_server.url}
    worker = start_worker(transport)
    client = redis_client(transport)
    wait_until_served(client, worker)

    # The call is waiting (blocked in BLPOP) when Redis stops answering.
    outcome: list[tuple[float, object, BaseException | None]] = []
    started = tmp_path / "sleep-started"
    body = {"seconds": 3, "marker": str(started)}
    caller = threading.Thread(
        target=lambda: outcome.append(timed(lambda: client.call_action(SERVICE, "sleep", body, timeout=2)))
    )
    caller.start()
    # The action wrote its marker: the request was sent and taken, so the caller is in its receive.
    wait_for(started.exists, 5, "the worker to start the job")
    os.kill(redis_server.pid, signal.SIGSTOP)
    try:
        caller.join(10)
        took, _, error = outcome[0]
        assert isinstance(error, MessageReceiveTimeout), error
        assert 2.0 <= took <= 2.0 + LATE, took
        # A new call while Redis is frozen: its send is bounded too.
        took, _, error = timed(lambda: client.call_action(SERVICE, "echo", {}, timeout=1))
        assert isinstance(error, MessageSendTimeout | MessageReceiveTimeout), error
        assert 1.0 <= took <= 1.0 + LATE, took
    finally:
        os.kill(redis_server.pid, signal.SIGCONT)
    wait_until_served(client, worker)
    assert client.call_action(SERVICE, "echo", {"n": 1}, timeout=5).body["n"] == 1


def test_a_stall_during_debug_sleep_ends_the_call_at_its_deadline(
    redis_server: RedisProcess, start_worker: Callable[..., Worker]
) -> None:
    transport = {"url": redis_server.url}
    worker = start_worker(transport)
    client = redis_client(transport)
    wait_until_served(client, worker)
    stall = redis_server.client(socket_timeout=10)
    sleeper = threading.Thread(target=lambda: stall.execute_command("DEBUG", "SLEEP", 3))  # type: ignore[no-untyped-call]
    sleeper.start()
    wait_for(lambda: not answers_ping(redis_server), 5, "Redis to stall")
    took, _, error = timed(lambda: client.call_action(SERVICE, "echo", {}, timeout=1.5))
    assert isinstance(error, TransientTransportError), error
    assert 1.5 <= took <= 1.5 + LATE, took
    sleeper.join(10)
    assert client.call_action(SERVICE, "echo", {"n": 2}, timeout=5).body["n"] == 2


def test_a_worker_killed_mid_action_costs_its_caller_the_timeout_not_more_and_the_next_call_works(
    redis_server: RedisProcess, start_worker: Callable[..., Worker], tmp_path: Path
) -> None:
    transport = {"url": redis_server.url}
    doomed = start_worker(transport)
    client = redis_client(transport)
    wait_until_served(client, doomed)
    marker = tmp_path / "started"
    outcome: list[tuple[float, object, BaseException | None]] = []
    caller = threading.Thread(
        target=lambda: outcome.append(
            timed(lambda: client.call_action(SERVICE, "sleep", {"seconds": 5, "marker": str(marker)}, timeout=2))
        )
    )
    caller.start()
    wait_for(marker.exists, 10, "the action to start")
    doomed.kill()
    caller.join(10)
    took, _, error = outcome[0]
    assert isinstance(error, MessageReceiveTimeout), error
    assert 2.0 <= took <= 2.0 + LATE, took

    survivor = start_worker(transport)
    wait_until_served(client, survivor)
    assert client.call_action(SERVICE, "echo", {"n": 3}, timeout=5).body["n"] == 3


def test_futures_parallel_calls_and_get_all_responses_keep_their_deadlines(
    redis_server: RedisProcess, start_worker: Callable[..., Worker]
) -> None:
    transport = {"url": redis_server.url}
    worker = start_worker(transport)
    client = redis_client(transport)
    wait_until_served(client, worker)

    # A future: result() without a timeout uses the call's; result(timeout) waits that long; a
    # timed-out result() can be asked again and gets the response.
    # The call's timeout counts from the call, not from result().
    future = None

    def call_and_wait() -> object:
        nonlocal future
        future = client.call_action_future(SERVICE, "sleep", {"seconds": 1.2}, timeout=0.5)
        return future.result()

    took, _, error = timed(call_and_wait)
    assert future is not None
    assert isinstance(error, MessageReceiveTimeout), error
    assert 0.5 <= took <= 0.5 + LATE, took
    took, _, error = timed(lambda: future.result(timeout=0.3))
    assert isinstance(error, MessageReceiveTimeout), error
    assert 0.3 <= took <= 0.3 + LATE, took
    took, response, error = timed(lambda: future.result(timeout=3))
    assert error is None
    assert response.body["slept"] == 1.2

    took, _, error = timed(
        lambda: client.call_actions_parallel(
            SERVICE, [{"action": "sleep", "body": {"seconds": 1}}, {"action": "echo"}], timeout=0.4
        )
    )
    assert isinstance(error, MessageReceiveTimeout), error
    assert 0.4 <= took <= 0.4 + LATE, took

    wait_until_served(client, worker)  # the sleeping job is done
    request_id = client.send_request(SERVICE, [{"action": "sleep", "body": {"seconds": 1}}])
    took, _, error = timed(lambda: list(client.get_all_responses(SERVICE, receive_timeout_in_seconds=0.4)))
    assert isinstance(error, MessageReceiveTimeout), error
    assert 0.4 <= took <= 0.4 + LATE, took
    wait_until_served(client, worker)

    request_id = client.send_request(SERVICE, [{"action": "echo", "body": {"n": 4}}])
    responses = dict(client.get_all_responses(SERVICE, receive_timeout_in_seconds=5))
    assert responses[request_id].actions[0].body["n"] == 4
