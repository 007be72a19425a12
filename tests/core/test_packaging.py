"""Every distribution builds as users get it, and installs and works the way users install it.

From copies of this tree (nothing is written into it), each distribution is built as an sdist, and
each wheel is built *from that sdist*, so an sdist that cannot build on its own fails here. The
wheels are then installed (no editable installs, no workspace) into fresh, empty virtual
environments, one per way users install soa-core, with every third-party dependency constrained
to the version in ``uv.lock``:

* ``soa-core[testing]`` and ``soa-json``: the plugin listing, the ``soa`` command, a local call;
* ``soa-core soa-redis``: a worker process serving over a private ``redis-server``, and a call;
* ``soa-core soa-zmq``: a worker process serving over ZeroMQ, and a call.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import textwrap
import zipfile
from collections.abc import Iterator, Mapping
from email.parser import Parser
from pathlib import Path
from typing import Any

import pytest

from pysoa.version import __version__
from tests.redis_transport.servers import start_redis

from .plugins.venvs import ROOT, clean_env, create_venv, run

pytestmark = pytest.mark.slow

# distribution -> (source directory, import package, entry point declared in the `pysoa` group)
DISTRIBUTIONS = {
    "soa-core": ("core", "pysoa", None),
    "soa-local": ("plugins/local_transport", "soa_local", "local = soa_local.hooks"),
    "soa-json": ("plugins/json_serializer", "soa_json", "json = soa_json.hooks"),
    "soa-redis": ("plugins/redis_transport", "soa_redis", "redis = soa_redis.hooks"),
    "soa-zmq": ("plugins/zmq_transport", "soa_zmq", "zmq = soa_zmq.hooks"),
    "soa-otel": ("plugins/otel", "soa_otel", "otel = soa_otel.hooks"),
}
PLUGINS = [name for name in DISTRIBUTIONS if name != "soa-core"]
UV = ROOT / ".tools" / "bin" / "uv"

SERVICE_MODULE = """
from pysoa.server.action import Action
from pysoa.server.server import Server


class Square(Action):
    def run(self, request):
        return {"square": request.body["number"] ** 2}


class MathServer(Server):
    service_name = "math"
    action_class_map = {"square": Square}
"""

LOCAL_CALL = """
import json

import pysoa
from pysoa.client import Client
from math_service import MathServer

client = Client({
    "math": {"transport": {"name": "local", "kwargs": {"server_class": MathServer, "serializer": "json"}}},
})
response = client.call_action("math", "square", body={"number": 12})
print(json.dumps({"pysoa": pysoa.__file__, "body": response.body}))
"""

# Calls until a worker answers (it is starting in another process), then prints the body.
REMOTE_CALL = """
import json
import sys
import time

from pysoa.client import Client
from pysoa.errors import TransportError

client = Client({"math": {"transport": json.loads(sys.argv[1])}})
deadline = time.monotonic() + 60
while True:
    try:
        response = client.call_action("math", "square", body={"number": 12}, timeout=2)
        break
    except TransportError:
        if time.monotonic() > deadline:
            raise
print(json.dumps(response.body))
"""


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("packaging")
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def sdists(workdir: Path) -> dict[str, Path]:
    # Copies keep their place in the tree: the plugins read soa-core's version from ../../core.
    ignore = shutil.ignore_patterns("__pycache__", "build", "dist", "*.egg-info")
    out = workdir / "sdists"
    for source, _, _ in DISTRIBUTIONS.values():
        copy = shutil.copytree(ROOT / source, workdir / "source" / source, ignore=ignore)
        run(sys.executable, "-m", "build", "--sdist", "--no-isolation", "--outdir", out, copy)
    return {name: _one(out, f"{name.replace('-', '_')}-*.tar.gz") for name in DISTRIBUTIONS}


@pytest.fixture(scope="module")
def wheels(workdir: Path, sdists: dict[str, Path]) -> dict[str, Path]:
    out = workdir / "wheels"
    # Each sdist unpacked alone, far from the source tree, must build its wheel.
    for name, sdist in sdists.items():
        with tarfile.open(sdist) as archive:
            archive.extractall(workdir / "unpacked" / name, filter="data")
        [unpacked] = (workdir / "unpacked" / name).iterdir()
        run(sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", out, unpacked)
    return {name: _one(out, f"{name.replace('-', '_')}-*.whl") for name in DISTRIBUTIONS}


@pytest.fixture(scope="module")
def constraints(workdir: Path) -> Path:
    """The locked versions of every third-party dependency, for pip's ``-c``."""
    assert UV.exists(), "the packaging tests use the project's uv (make venv installs it)"
    exported = run(
        UV, "export", "--frozen", "--no-hashes", "--no-header", "--no-annotate", "--no-emit-workspace",
        "--all-packages", "--all-extras", "--no-dev", "--project", ROOT,
    ).stdout  # fmt: skip
    path = workdir / "constraints.txt"
    path.write_text(exported)
    return path


def _one(directory: Path, pattern: str) -> Path:
    [path] = directory.glob(pattern)
    return path


def _install(workdir: Path, name: str, requirements: list[str], wheels: dict[str, Path], constraints: Path) -> Path:
    python = create_venv(workdir / name, see_dev_packages=False)
    # Our distributions come from the built wheels only (requirements name them by path; extras find
    # them in the wheel directory); third-party ones from the index, at the locked versions.
    wheel_dir = next(iter(wheels.values())).parent
    run(
        sys.executable, "-m", "pip", "--python", python, "install", "--quiet", "--find-links", wheel_dir,
        "-c", constraints, *requirements, timeout=300,
    )  # fmt: skip
    (python.parent.parent / "app").mkdir()
    (python.parent.parent / "app" / "math_service.py").write_text(SERVICE_MODULE)
    return python


def _installed_from(python: Path, wheels: dict[str, Path], names: list[str]) -> None:
    """Each distribution in ``names`` is installed from our wheel, file for file."""
    report = json.loads(
        run(
            python, "-c",
            "import importlib.metadata as m, json, sys; "
            "print(json.dumps({n: m.distribution(n).read_text('RECORD') for n in sys.argv[1:]}))",
            *names,
        ).stdout
    )  # fmt: skip
    for name in names:
        _, package, _ = DISTRIBUTIONS[name]
        with zipfile.ZipFile(wheels[name]) as wheel:
            [record] = [f for f in wheel.namelist() if f.endswith(".dist-info/RECORD")]
            built = {line for line in wheel.read(record).decode().splitlines() if line.startswith(f"{package}/")}
        installed = {
            line for line in report[name].splitlines() if line.startswith(f"{package}/") and ".pyc," not in line
        }
        assert installed == built, f"{name} is not the wheel built from this tree"


def _app_run(python: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run the venv's python in its app directory, where math_service lives."""
    result = subprocess.run(
        [str(python), *args],
        cwd=python.parent.parent / "app",
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, f"{args} exited with {result.returncode}:\n{result.stdout}\n{result.stderr}"
    return result


def _serve_and_call(python: Path, server_transport: Mapping[str, Any], client_transport: Mapping[str, Any]) -> Any:
    """Start one worker with ``python -m pysoa serve``, call it, stop it gracefully; the response body."""
    app = python.parent.parent / "app"
    (app / "math_settings.py").write_text(f"SOA_SERVER_SETTINGS = {{'transport': {server_transport!r}}}\n")
    command = [str(python), "-m", "pysoa", "serve", "math_service:MathServer", "--settings", "math_settings"]
    log = (app / "worker.log").open("w")
    worker = subprocess.Popen(command, cwd=app, env=clean_env(), stdout=log, stderr=subprocess.STDOUT)
    try:
        body = json.loads(_app_run(python, "-c", REMOTE_CALL, json.dumps(client_transport)).stdout)
    finally:
        os.kill(worker.pid, signal.SIGTERM)
        try:
            status = worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.kill(worker.pid, signal.SIGKILL)
            worker.wait()
            raise
        log.close()
    assert status == 0, (app / "worker.log").read_text()
    return body


# --- what was built -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(DISTRIBUTIONS))
def test_each_wheel_is_typed_and_declares_its_entry_point(wheels: dict[str, Path], name: str) -> None:
    _, package, entry_point = DISTRIBUTIONS[name]
    with zipfile.ZipFile(wheels[name]) as wheel:
        files = wheel.namelist()
        assert f"{package}/py.typed" in files
        assert f"{package}/__init__.py" in files
        text = "".join(wheel.read(f).decode() for f in files if f.endswith(".dist-info/entry_points.txt"))
    # Only the package itself ships: no tests, no caches.
    assert all(f.startswith((f"{package}/", f"{name.replace('-', '_')}-")) for f in files), files
    assert not any("__pycache__" in f for f in files)
    if entry_point is not None:
        assert f"[pysoa]\n{entry_point}\n" in text
    else:
        assert "[console_scripts]\nsoa = pysoa.cli:main\n" in text


@pytest.mark.parametrize("name", list(DISTRIBUTIONS))
def test_each_distribution_is_ready_for_its_package_page(
    wheels: dict[str, Path], sdists: dict[str, Path], name: str
) -> None:
    with zipfile.ZipFile(wheels[name]) as wheel:
        [metadata_file] = [f for f in wheel.namelist() if f.endswith(".dist-info/METADATA")]
        metadata = Parser().parsestr(wheel.read(metadata_file).decode())
        assert any(f.endswith(".dist-info/licenses/LICENSE") for f in wheel.namelist())
    # One version for all: soa-core's.
    assert metadata["Version"] == __version__
    assert metadata["License-Expression"] == "Apache-2.0"
    assert metadata["Requires-Python"] == ">=3.11"
    assert metadata["Description-Content-Type"] == "text/markdown"
    assert str(metadata.get_payload()).startswith(f"# {name}\n"), "the package page shows the distribution's own README"
    assert "Typing :: Typed" in (metadata.get_all("Classifier") or [])
    assert {url.split(",")[0] for url in metadata.get_all("Project-URL") or []} >= {
        "Homepage",
        "Documentation",
        "Source",
    }
    with tarfile.open(sdists[name]) as sdist:
        assert any(member.endswith("/LICENSE") for member in sdist.getnames())


@pytest.mark.parametrize("name", PLUGINS)
def test_each_plugin_declares_the_soa_core_releases_it_supports(wheels: dict[str, Path], name: str) -> None:
    with zipfile.ZipFile(wheels[name]) as wheel:
        [metadata_file] = [f for f in wheel.namelist() if f.endswith(".dist-info/METADATA")]
        requires = Parser().parsestr(wheel.read(metadata_file).decode()).get_all("Requires-Dist") or []
    [core] = [r for r in requires if r.startswith("soa-core")]
    assert core.replace(" ", "") in ("soa-core<1,>=0.70", "soa-core>=0.70,<1")


# --- soa-core[testing] and soa-json, in-process ----------------------------------------------------------


@pytest.fixture(scope="module")
def local_venv(workdir: Path, wheels: dict[str, Path], constraints: Path) -> Path:
    python = _install(
        workdir, "venv-local", [f"{wheels['soa-core']}[testing]", str(wheels["soa-json"])], wheels, constraints
    )
    _installed_from(python, wheels, ["soa-core", "soa-local", "soa-json"])
    return python


def test_the_installed_plugin_listing_shows_msgpack_local_and_json(local_venv: Path) -> None:
    rows = json.loads(run(local_venv, "-m", "pysoa", "plugins", "--json").stdout)
    assert sorted((row["kind"], row["name"], row["distribution"]) for row in rows) == [
        ("async client transport", "local", "soa-local"),
        ("async server transport", "local", "soa-local"),
        ("client transport", "local", "soa-local"),
        ("serializer", "json", "soa-json"),
        ("serializer", "msgpack", "soa-core"),
        ("server transport", "local", "soa-local"),
    ]


def test_the_soa_command_is_installed(local_venv: Path) -> None:
    table = run(local_venv.with_name("soa"), "plugins").stdout
    assert table.splitlines()[0].split() == ["KIND", "NAME", "CLASS", "PLUGIN", "DISTRIBUTION", "VERSION"]


def test_a_call_works_over_the_installed_plugins(local_venv: Path) -> None:
    report = json.loads(_app_run(local_venv, "-c", LOCAL_CALL).stdout)
    # The installed copy, not the source tree, answered.
    assert Path(report["pysoa"]).is_relative_to(local_venv.parent.parent)
    assert report["body"] == {"square": 144}


def test_the_testing_extra_brings_what_pysoa_test_needs(local_venv: Path) -> None:
    script = textwrap.dedent(
        """
        from pysoa.test.server import UnitTestServerTestCase
        from math_service import MathServer

        class Case(UnitTestServerTestCase):
            server_class = MathServer
            server_settings = {}

            def test(self):
                assert self.call_action("square", {"number": 5}).body == {"square": 25}

        import unittest
        result = unittest.TextTestRunner().run(unittest.defaultTestLoader.loadTestsFromTestCase(Case))
        raise SystemExit(0 if result.wasSuccessful() and result.testsRun == 1 else 1)
        """
    )
    _app_run(local_venv, "-c", script)


# --- soa-core soa-redis, a worker process and a call over a real Redis --------------------------------------


@pytest.mark.redis
def test_a_call_over_redis_from_the_installed_wheels(
    workdir: Path, wheels: dict[str, Path], constraints: Path, tmp_path: Path
) -> None:
    python = _install(workdir, "venv-redis", [str(wheels["soa-core"]), str(wheels["soa-redis"])], wheels, constraints)
    _installed_from(python, wheels, ["soa-core", "soa-redis"])
    redis_server = start_redis(tmp_path / "redis")
    try:
        transport = {"name": "redis", "kwargs": {"url": redis_server.url}}
        assert _serve_and_call(python, transport, transport) == {"square": 144}
    finally:
        redis_server.stop()


# --- soa-core soa-zmq, a worker process and a call over ZeroMQ ----------------------------------------------


def test_a_call_over_zeromq_from_the_installed_wheels(
    workdir: Path, wheels: dict[str, Path], constraints: Path, tmp_path: Path
) -> None:
    python = _install(workdir, "venv-zmq", [str(wheels["soa-core"]), str(wheels["soa-zmq"])], wheels, constraints)
    _installed_from(python, wheels, ["soa-core", "soa-zmq"])
    endpoint = f"ipc://{tmp_path}/math.sock"
    server = {"name": "zmq", "kwargs": {"endpoint": endpoint, "role": "standalone"}}
    client = {"name": "zmq", "kwargs": {"endpoint": endpoint}}
    assert _serve_and_call(python, server, client) == {"square": 144}
