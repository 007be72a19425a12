"""The measured scenarios: what each client process does, against how many servers, for how long."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

__all__ = ["SCENARIOS", "Scenario", "scenario_names", "smoke"]


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    servers: int
    clients: int
    # "action" (call_action), "job" (call_actions), "parallel" (call_actions_parallel) or "concurrent" (``actions``
    # call_action calls at once: asyncio.gather for an AsyncClient, threads for the sync client)
    call: str
    size: int  # echo body size in bytes (MessagePack-encoded)
    duration: float  # seconds of measurement per client (at least min_calls calls)
    warmup: int
    min_calls: int
    actions: int = 1
    max_calls: int = 10**9

    def command(self) -> dict[str, Any]:
        return {
            "op": "seq",
            "call": self.call,
            "size": self.size,
            "actions": self.actions,
            "duration": self.duration,
            "warmup": self.warmup,
            "min_calls": self.min_calls,
            "max_calls": self.max_calls,
        }


# The closed-loop 1x1 throughput is lat_100B's rate: one client calling sequentially against one server is exactly
# a 1x1 closed loop, so it is reported from that measurement rather than measured twice.
SCENARIOS: tuple[Scenario, ...] = (
    Scenario("lat_100B", "call_action, ~100 B echo, 1 server, 1 client", 1, 1, "action", 100, 2.0, 200, 50),
    Scenario("lat_10KB", "call_action, ~10 KB echo", 1, 1, "action", 10 * 1024, 1.0, 50, 30),
    Scenario("lat_1MB", "call_action, ~1 MB echo", 1, 1, "action", 1024 * 1024, 1.5, 3, 10),
    Scenario("job_20", "call_actions: a job of 20 echo actions (~100 B each)", 1, 1, "job", 100, 1.5, 10, 10, 20),
    Scenario(
        "tput_2x4", "closed loop, 2 server processes x 4 client processes, ~100 B", 2, 4, "action", 100, 3.0, 50, 20
    ),
    Scenario("par_10", "call_actions_parallel of 10 (~100 B each), 2 servers", 2, 1, "parallel", 100, 1.5, 10, 10, 10),
    # One client process with 100 calls in flight at once: AsyncClient (asyncio.gather on one connection) against
    # the sync client (100 threads); one "call" of the driver is the batch of 100.
    Scenario(
        "conc_100",
        "100 concurrent call_action (~100 B) from one process, 2 servers",
        2,
        1,
        "concurrent",
        100,
        2.0,
        3,
        5,
        100,
    ),
)


def scenario_names() -> list[str]:
    return [scenario.name for scenario in SCENARIOS]


def smoke(scenario: Scenario) -> Scenario:
    """A few calls of the same scenario: enough to prove the path works, nothing to time."""
    return replace(scenario, duration=0.0, warmup=1, min_calls=2, max_calls=2)


def scaled(scenario: Scenario, factor: float) -> Scenario:
    return replace(scenario, duration=scenario.duration * factor)
