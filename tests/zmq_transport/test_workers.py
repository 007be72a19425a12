"""Several worker processes behind one endpoint: load-aware dispatch, joining, leaving, dying."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

from pysoa.client import Client
from pysoa.errors import MessageReceiveTimeout
from tests.zmq_transport.cluster import SERVICE, Cluster, read_pid, wait_until


class Caller(threading.Thread):
    """Calls ``echo`` in a loop from its own thread, remembering who answered and what failed."""

    def __init__(self, client: Client, timeout: float = 3.0) -> None:
        super().__init__(daemon=True)
        self.client = client
        self.timeout = timeout
        self.pids: list[int] = []
        self.errors: list[BaseException] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        n = 0
        while not self.stopping.is_set():
            n += 1
            try:
                body = self.client.call_action(SERVICE, "echo", {"n": n}, timeout=self.timeout).body
            except Exception as exc:
                self.errors.append(exc)
                continue
            assert body["n"] == n
            self.pids.append(body["pid"])
            time.sleep(0.005)

    def answered_by(self, pid: int, timeout: float = 15.0) -> None:
        wait_until(lambda: pid in self.pids, timeout, f"worker {pid} to answer")

    def calls_after(self, count: int) -> list[int]:
        """Wait for ``count`` more answers; return who gave them."""
        start = len(self.pids)
        wait_until(lambda: len(self.pids) >= start + count, 15, f"{count} more calls")
        return self.pids[start : start + count]

    def finish(self) -> None:
        self.stopping.set()
        self.join(30)


def test_a_slow_job_never_holds_up_calls_while_another_worker_is_idle(cluster: Cluster, ipc_dir: Path) -> None:
    """Least-recently-used dispatch: while one worker sleeps, every call goes to the idle one.

    Round-robin would send every other call to the sleeping worker, and those calls would time
    out (the job outlasts their timeout).
    """
    cluster.start_router()
    workers = [cluster.add_worker(), cluster.add_worker()]
    client = cluster.client()
    cluster.wait_for_workers(client, [w.pid for w in workers])

    pid_file = ipc_dir / "slow.pid"
    slow = client.call_action_future(SERVICE, "sleep", {"seconds": 2.5, "pid_file": str(pid_file)}, timeout=10)
    slow_pid = read_pid(pid_file)
    (idle_pid,) = {w.pid for w in workers} - {slow_pid}

    answered_by = {client.call_action(SERVICE, "echo", {"n": n}, timeout=1.0).body["pid"] for n in range(25)}

    assert answered_by == {idle_pid}
    assert slow.result().body["pid"] == slow_pid


def test_workers_join_and_leave_while_clients_keep_calling(cluster: Cluster) -> None:
    """Added workers get work as soon as they are up; SIGTERMed ones finish, hand back, and leave; no call fails."""
    cluster.start_router()
    first = cluster.add_worker()
    client = cluster.client()
    cluster.wait_for_workers(client, [first.pid])
    caller = Caller(cluster.client())
    caller.start()
    try:
        second = cluster.add_worker()
        caller.answered_by(second.pid)

        cluster.stop_worker(first)  # graceful: it says DISCONNECT and hands back what reaches it
        third = cluster.add_worker()
        caller.answered_by(third.pid)

        cluster.stop_worker(second)
        assert set(caller.calls_after(20)) == {third.pid}
    finally:
        caller.finish()
    assert caller.errors == []


def test_a_worker_killed_mid_request_costs_only_its_caller_one_timeout(cluster: Cluster, ipc_dir: Path) -> None:
    cluster.start_router()
    workers = [cluster.add_worker(), cluster.add_worker()]
    client = cluster.client()
    cluster.wait_for_workers(client, [w.pid for w in workers])
    bystander = Caller(cluster.client())
    bystander.start()
    try:
        pid_file = ipc_dir / "victim.pid"
        sent = time.monotonic()
        doomed = client.call_action_future(SERVICE, "sleep", {"seconds": 30, "pid_file": str(pid_file)}, timeout=1.5)
        victim = read_pid(pid_file)
        os.kill(victim, signal.SIGKILL)
        with pytest.raises(MessageReceiveTimeout):
            doomed.result()
        # No later than its deadline (plus scheduling slack), not at some transport default.
        assert time.monotonic() - sent < 1.5 + 1.0

        (survivor,) = {w.pid for w in workers} - {victim}
        # The same thread, the same socket: no stuck state.
        assert client.call_action(SERVICE, "echo", {}, timeout=2).body["pid"] == survivor
        assert set(bystander.calls_after(10)) == {survivor}
    finally:
        bystander.finish()
    assert bystander.errors == []


def test_an_idle_worker_killed_is_never_given_work(cluster: Cluster) -> None:
    """Its connection closes with it: the router finds it unreachable at dispatch and uses another."""
    cluster.start_router()
    workers = [cluster.add_worker(), cluster.add_worker()]
    client = cluster.client()
    cluster.wait_for_workers(client, [w.pid for w in workers])
    workers[0].kill()
    workers[0].wait()
    for n in range(10):
        assert client.call_action(SERVICE, "echo", {"n": n}, timeout=2).body["pid"] == workers[1].pid


def test_a_hung_worker_is_forgotten_after_missed_heartbeats_and_rejoins_when_it_recovers(cluster: Cluster) -> None:
    cluster.start_router()
    workers = [cluster.add_worker(), cluster.add_worker()]
    client = cluster.client()
    cluster.wait_for_workers(client, [w.pid for w in workers])
    hung = workers[0]
    hung.send_signal(signal.SIGSTOP)
    try:
        # heartbeat interval 0.2s x liveness 3: forgotten after 0.6s
        time.sleep(1.2)
        for n in range(10):
            assert client.call_action(SERVICE, "echo", {"n": n}, timeout=1).body["pid"] == workers[1].pid
    finally:
        hung.send_signal(signal.SIGCONT)
    cluster.wait_for_workers(client, [hung.pid])


def test_clients_and_workers_carry_on_after_the_router_restarts(cluster: Cluster) -> None:
    """Clients and workers reconnect by themselves; workers' heartbeats re-register them."""
    router = cluster.start_router()
    worker = cluster.add_worker()
    client = cluster.client()
    cluster.wait_for_workers(client, [worker.pid])
    router.kill()
    router.wait()
    cluster.start_router()
    wait_until(
        lambda: _answers(client) == worker.pid,
        10,
        "the worker to answer through the new router",
        interval=0.1,
    )


def _answers(client: Client) -> int | None:
    try:
        pid: int = client.call_action(SERVICE, "echo", {}, timeout=0.5).body["pid"]
        return pid
    except Exception:
        return None
