"""The distributions build real wheels, and a non-editable install into an empty environment works.

This is issue 2's "done when": ``pip install`` of soa-core, soa-local and soa-json (wheels built from
this tree) into an empty virtual environment gives a working ``pysoa`` whose plugin listing shows
``msgpack``, ``local`` and ``json``. Their dependencies come from the package index.
"""

from __future__ import annotations

import json
import shutil
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from .plugins.venvs import ROOT, create_venv, run

pytestmark = pytest.mark.slow

# distribution -> (source directory, import package, entry point declared in the `pysoa` group)
DISTRIBUTIONS = {
    "soa-core": (ROOT / "core", "pysoa", None),
    "soa-local": (ROOT / "plugins" / "local_transport", "soa_local", "local = soa_local.hooks"),
    "soa-json": (ROOT / "plugins" / "json_serializer", "soa_json", "json = soa_json.hooks"),
}

CALL_SCRIPT = """
import json

import pysoa
from pysoa.client import Client
from pysoa.server.action import Action
from pysoa.server.server import Server


class Square(Action):
    def run(self, request):
        return {"square": request.body["number"] ** 2}


class MathServer(Server):
    service_name = "math"
    action_class_map = {"square": Square}


client = Client({
    "math": {"transport": {"name": "local", "kwargs": {"server_class": MathServer, "serializer": "json"}}},
})
response = client.call_action("math", "square", body={"number": 12})
print(json.dumps({"pysoa": pysoa.__file__, "body": response.body}))
"""


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("packaging")
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def wheels(workdir: Path) -> dict[str, Path]:
    # Build from copies, so that nothing is ever written into the source tree.
    ignore = shutil.ignore_patterns("__pycache__", "build", "dist", "*.egg-info")
    sources = [
        shutil.copytree(source, workdir / "source" / name, ignore=ignore)
        for name, (source, _, _) in DISTRIBUTIONS.items()
    ]
    out = workdir / "wheels"
    run(
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--quiet",
        "--no-deps",
        "--no-build-isolation",
        "--no-index",
        "-w",
        out,
        *sources,
    )
    built = {}
    for name in DISTRIBUTIONS:
        [wheel] = out.glob(f"{name.replace('-', '_')}-*.whl")
        built[name] = wheel
    return built


@pytest.fixture(scope="module")
def venv_python(workdir: Path, wheels: dict[str, Path]) -> Path:
    python = create_venv(workdir / "venv", see_dev_packages=False)
    # pip of the test environment installs into the new, empty one; dependencies from the index.
    run(sys.executable, "-m", "pip", "--python", python, "install", "--quiet", *wheels.values(), timeout=300)
    return python


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


def test_the_installed_plugin_listing_shows_msgpack_local_and_json(venv_python: Path) -> None:
    rows = json.loads(run(venv_python, "-m", "pysoa", "plugins", "--json").stdout)
    assert sorted((row["kind"], row["name"], row["distribution"]) for row in rows) == [
        ("client transport", "local", "soa-local"),
        ("serializer", "json", "soa-json"),
        ("serializer", "msgpack", "soa-core"),
        ("server transport", "local", "soa-local"),
    ]


def test_the_soa_command_is_installed(venv_python: Path) -> None:
    table = run(venv_python.with_name("soa"), "plugins").stdout
    assert table.splitlines()[0].split() == ["KIND", "NAME", "CLASS", "PLUGIN", "DISTRIBUTION", "VERSION"]


def test_a_call_works_over_the_installed_plugins(venv_python: Path) -> None:
    report = json.loads(run(venv_python, "-c", CALL_SCRIPT).stdout)
    # The installed copy, not the source tree, answered.
    assert Path(report["pysoa"]).is_relative_to(venv_python.parent.parent)
    assert report["body"] == {"square": 144}
