"""The interpreters a benchmark run uses, and the virtual environment of the peers (built on first use).

* soa-core: the interpreter running the bench (the dev venv, ``.venv``), with every distribution of this repo;
* PySOA 1.4.9: its own venv, built by ``tests/pysoa149/env.py`` (exact pins, C msgpack, hiredis);
* the peers zerorpc and Pyro5 (and pyzmq for the raw ZeroMQ floor when soa-core's venv has no pyzmq): ``.bench-venv``
  (``$SOA_BENCH_VENV`` overrides), created here with exact pins so they never meet soa-core's dependencies;
* FastStream (Redis request/reply): ``.bench-venv-faststream`` (``$SOA_FASTSTREAM_VENV``), exact pins too.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.pysoa149.env import ensure_pysoa149_python, pysoa149_env_info

__all__ = [
    "REPO_ROOT",
    "BenchEnvError",
    "ensure_faststream_python",
    "ensure_peers_python",
    "faststream_venv_dir",
    "peers_venv_dir",
    "probe",
    "pysoa149_info",
    "pysoa149_python",
]

REPO_ROOT = Path(__file__).resolve().parents[1]

# Exact pins: every machine benchmarks the same peers. msgpack and pyzmq match soa-core's venv at the time of writing.
PEER_REQUIREMENTS = (
    "zerorpc==0.6.3",
    "gevent==26.9.0",
    "Pyro5==5.17",
    "serpent==1.43",
    "pyzmq==27.3.0",
    "msgpack==1.2.4",
)
# FastStream's Redis request/reply, with exact pins of it and everything it brings.
FASTSTREAM_REQUIREMENTS = (
    "faststream[redis]==0.7.8",
    "fast-depends==3.0.9",
    "anyio==4.16.0",
    "pydantic==2.14.4",
    "pydantic_core==2.50.5",
    "annotated-types==0.8.0",
    "typing-inspection==0.4.5",
    "typing_extensions==4.16.0",
    "idna==3.21",
    "redis==8.2.0",
)
_MARKER = ".soa-bench-ready.json"
_STEP_TIMEOUT = 900.0


class BenchEnvError(RuntimeError):
    """An interpreter could not be prepared; the message names the step and its output."""


def peers_venv_dir() -> Path:
    override = os.environ.get("SOA_BENCH_VENV")
    return Path(override).resolve() if override else REPO_ROOT / ".bench-venv"


def faststream_venv_dir() -> Path:
    override = os.environ.get("SOA_FASTSTREAM_VENV")
    return Path(override).resolve() if override else REPO_ROOT / ".bench-venv-faststream"


def _recipe(requirements: tuple[str, ...]) -> str:
    text = json.dumps({"requirements": requirements, "python": list(sys.version_info[:2])})
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _run(step: str, argv: list[str]) -> str:
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=_STEP_TIMEOUT, stdin=subprocess.DEVNULL, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise BenchEnvError(f"{step}: timed out after {_STEP_TIMEOUT:.0f} s") from exc
    if done.returncode != 0:
        raise BenchEnvError(
            f"{step} failed (exit {done.returncode}): {' '.join(argv)}\n{(done.stdout + done.stderr)[-3000:]}"
        )
    return done.stdout


def _marker_ok(venv: Path, requirements: tuple[str, ...]) -> bool:
    try:
        marker = json.loads((venv / _MARKER).read_text())
    except (OSError, ValueError):
        return False
    return (
        isinstance(marker, dict)
        and marker.get("recipe") == _recipe(requirements)
        and (venv / "bin" / "python").exists()
    )


def _ensure_venv(venv: Path, requirements: tuple[str, ...], imports: str, what: str, log: Any) -> Path:
    """The python of ``venv`` with exactly ``requirements``, creating or updating it first (safe across processes)."""
    python = venv / "bin" / "python"
    if _marker_ok(venv, requirements):
        return python
    venv.mkdir(parents=True, exist_ok=True)
    with _locked(venv / ".lock"):
        if not _marker_ok(venv, requirements):
            if log is not None:
                log(f"building the {what} venv in {venv} (once; later runs reuse it)")
            (venv / _MARKER).unlink(missing_ok=True)
            if not python.exists():
                # Based on the base interpreter, never on the dev venv that runs the bench.
                _run("create venv", [getattr(sys, "_base_executable", sys.executable), "-m", "venv", str(venv)])
            pip = [str(python), "-m", "pip", "--disable-pip-version-check", "--no-input", "--quiet"]
            _run(f"install {what}", [*pip, "install", *requirements])
            _run(f"import {what}", [str(python), "-c", f"import {imports}"])
            marker = {"recipe": _recipe(requirements), "requirements": requirements}
            (venv / _MARKER).write_text(json.dumps(marker) + "\n")
    return python


def ensure_peers_python(log: Any = None) -> Path:
    """The peers' venv python, creating or updating the venv first when needed (safe across processes)."""
    return _ensure_venv(peers_venv_dir(), PEER_REQUIREMENTS, "zerorpc, gevent, Pyro5.api, zmq, msgpack", "peers", log)


def ensure_faststream_python(log: Any = None) -> Path:
    """FastStream's venv python (its own: it brings pydantic and its own redis-py), built when needed."""
    return _ensure_venv(faststream_venv_dir(), FASTSTREAM_REQUIREMENTS, "faststream.redis", "FastStream", log)


def pysoa149_python() -> Path:
    return ensure_pysoa149_python()


def pysoa149_info() -> dict[str, Any]:
    return pysoa149_env_info()


def probe(python: Path | str, code: str, env: dict[str, str] | None = None, flags: tuple[str, ...] = ()) -> Any:
    """Run ``code`` (which prints one JSON value) with ``python`` and return that value; errors become BenchEnvError."""
    done = subprocess.run(
        [str(python), *flags, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        env=env,
        cwd=REPO_ROOT,
        check=False,
    )
    if done.returncode != 0:
        raise BenchEnvError((done.stdout + done.stderr).strip()[-2000:])
    return json.loads(done.stdout.strip().splitlines()[-1])
