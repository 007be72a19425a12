"""Every module path and public name of the real PySOA 1.4.9 exists in soa-core, unless deliberately left out.

The list of PySOA's modules and names is not written down here: tests/pysoa149/public_names.py reads it from the
PySOA 1.4.9 installed in the interop venv, so the guard cannot drift from PySOA. What soa-core deliberately does not
offer is in :data:`ALLOWED_ABSENT`, each entry with its reason; an entry that is no longer needed fails the guard too.
Public constants (error codes, backend types, protocol versions, message size defaults) must have PySOA's values.
"""

from __future__ import annotations

import enum
import importlib
import inspect
import json
import subprocess
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

pytestmark = pytest.mark.interop

_PROBE = Path(__file__).resolve().parents[1] / "pysoa149" / "public_names.py"

_REDIS_INTERNALS = (
    "PySOA's Redis connection layer and transport core: soa-redis replaced them (connections, Sentinel and the "
    "wire format live in its backend and transports); importing the name raises an ImportError saying so"
)
_REDIS_GATEWAY = "pysoa.common.transport.redis_gateway"
_OLD_PLAN_PLUGIN = (
    "internals of PySOA's test-plan plugin for pytest < 5.4 (its collectors, flags and pyparsing import); soa-core's "
    "plugin at the same path collects the same plans on current pytest with collectors of its own"
)
_OLD_PLAN_PLUGIN_NAMES = (
    "IgnoreBaseServicePlanTestCaseClassCollector",
    "PLUGIN_STATISTICS",
    "PytestCollectionWarning",
    "ServicePlanFixtureTestTracebackEntry",
    "ServicePlanTestCaseTestFunction",
    "ServicePlanTestClassCollector",
    "ServicePlanTestInstanceCollector",
    "TEST_PLANS_ENABLED",
    "has_init",
    "has_new",
    "pyparsing",
)

# What soa-core deliberately does not offer. A key is a module (the module and all its names), ``package.*`` (the
# package and every module under it) or ``module:name`` (one name).
ALLOWED_ABSENT: dict[str, str] = {
    "pysoa.common.compatibility": (
        "Python 2 / < 3.7 shims (ContextVar, set_running_loop); use contextvars and asyncio directly"
    ),
    "pysoa.typing_patches": "patches for the typing module of Python 3.5 and 3.6; defines nothing on Python 3.7+",
    f"{_REDIS_GATEWAY}.backend.base:BaseRedisClient": _REDIS_INTERNALS,
    f"{_REDIS_GATEWAY}.backend.base:LuaRedisCommand": _REDIS_INTERNALS,
    f"{_REDIS_GATEWAY}.backend.base:SendMessageToQueueCommand": _REDIS_INTERNALS,
    f"{_REDIS_GATEWAY}.backend.sentinel:SentinelRedisClient": _REDIS_INTERNALS,
    f"{_REDIS_GATEWAY}.backend.standard:StandardRedisClient": _REDIS_INTERNALS,
    f"{_REDIS_GATEWAY}.core:RedisTransportClientCore": _REDIS_INTERNALS,
    f"{_REDIS_GATEWAY}.core:RedisTransportCore": _REDIS_INTERNALS,
    f"{_REDIS_GATEWAY}.core:RedisTransportServerCore": _REDIS_INTERNALS,
    "pysoa.test.plan.grammar.*": (
        "PySOA's pyparsing grammar and its API for custom directives; soa-core's test plans parse the same fixture "
        "language with lark (pysoa.test.plan.parser), and pyparsing directives cannot plug into it"
    ),
    **{f"pysoa.test.plugins.pytest.plans:{name}": _OLD_PLAN_PLUGIN for name in _OLD_PLAN_PLUGIN_NAMES},
}

# Public constants whose values are allowed to differ from PySOA's, with the reason.
VALUES_MAY_DIFFER: dict[str, str] = {
    "pysoa:__version__": "soa-core has its own version number",
    "pysoa:__version_info__": "soa-core has its own version number",
}


@pytest.fixture(scope="module")
def pysoa_api(pysoa149_python: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """``{module: {"names", "kinds", "values", "import_error"}}`` for PySOA 1.4.9 (see public_names.py)."""
    # ``-c`` rather than a script path: PySOA's standalone module refuses to import when sys.path[0] is a script's
    # directory (its "double import trap" check). ``-E -s`` and an empty working directory keep soa-core's
    # packages and this repository off PySOA's path.
    done = subprocess.run(
        [str(pysoa149_python), "-E", "-s", "-c", _PROBE.read_text(encoding="utf-8"), "pysoa"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path_factory.mktemp("pysoa-api"),
        check=False,
    )
    assert done.returncode == 0, done.stderr
    api: dict[str, Any] = json.loads(done.stdout)
    assert "Client" in api.get("pysoa.client.client", {}).get("names", []), "the probe found nothing"
    return api


def _module_allowance(module: str) -> str | None:
    if module in ALLOWED_ABSENT:
        return ALLOWED_ABSENT[module]
    for key, reason in ALLOWED_ABSENT.items():
        if key.endswith(".*") and (module == key[:-2] or module.startswith(key[:-1])):
            return reason
    return None


def _import(module: str) -> ModuleType | str:
    """The soa-core module, or why it cannot be imported."""
    try:
        return importlib.import_module(module)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"


def _lookup(module: ModuleType, name: str) -> tuple[bool, Any]:
    try:
        return True, getattr(module, name)
    except AttributeError:
        return False, None
    except ImportError as exc:  # a lazily served name whose plugin is missing
        return False, exc


def _kind_problem(expected_kind: str | None, value: Any) -> str | None:
    if expected_kind == "class" and not inspect.isclass(value):
        return f"is a class in PySOA but {type(value).__name__} in soa-core"
    if expected_kind == "function" and not callable(value):
        return f"is callable in PySOA but {type(value).__name__} in soa-core"
    return None


def test_every_pysoa_module_and_public_name_is_in_soa_core(pysoa_api: dict[str, Any]) -> None:
    problems = []
    for module_name, entry in sorted(pysoa_api.items()):
        if _module_allowance(module_name):
            continue
        module = _import(module_name)
        if isinstance(module, str):
            problems.append(f"{module_name}: cannot import: {module}")
            continue
        for name in entry["names"]:
            if f"{module_name}:{name}" in ALLOWED_ABSENT:
                continue
            found, value = _lookup(module, name)
            if not found:
                problems.append(f"{module_name}: no {name!r}" + (f" ({value})" if value else ""))
            elif problem := _kind_problem(entry["kinds"].get(name), value):
                problems.append(f"{module_name}.{name} {problem}")
    assert not problems, "soa-core lacks PySOA 1.4.9 module paths or names:\n" + "\n".join(problems)


def test_every_allow_list_entry_is_still_needed(pysoa_api: dict[str, Any]) -> None:
    stale = []
    for key, reason in ALLOWED_ABSENT.items():
        assert reason.strip(), f"{key}: an allow-list entry needs its reason"
        if ":" in key:
            module_name, name = key.split(":")
            if name not in pysoa_api.get(module_name, {}).get("names", []):
                stale.append(f"{key}: PySOA 1.4.9 has no such name")
                continue
            module = _import(module_name)
            if not isinstance(module, str) and _lookup(module, name)[0]:
                stale.append(f"{key}: soa-core offers it now")
            continue
        package = key.removesuffix(".*")
        covered = [m for m in pysoa_api if m == package or (key.endswith(".*") and m.startswith(package + "."))]
        if not covered:
            stale.append(f"{key}: PySOA 1.4.9 has no such module")
        elif not any(isinstance(_import(m), str) for m in covered):
            stale.append(f"{key}: soa-core offers it now")
    for key in VALUES_MAY_DIFFER:
        module_name, name = key.split(":")
        if name not in pysoa_api.get(module_name, {}).get("values", {}):
            stale.append(f"{key}: PySOA 1.4.9 has no such constant")
    assert not stale, "remove these allow-list entries:\n" + "\n".join(stale)


def _comparable(value: Any) -> Any:
    """soa-core's value in the probe's JSON form (tuples as lists, bytes tagged, enums as member values)."""
    if inspect.isclass(value) and issubclass(value, enum.Enum):
        return {"enum": {member.name: _comparable(member.value) for member in value}}
    if isinstance(value, bytes):
        return {"bytes": value.decode("latin-1")}
    if isinstance(value, (tuple, list, frozenset)):
        return [_comparable(item) for item in value]
    return value


def test_public_constants_have_pysoa_values(pysoa_api: dict[str, Any]) -> None:
    compared = 0
    mismatches = []
    for module_name, entry in sorted(pysoa_api.items()):
        if _module_allowance(module_name):
            continue
        module = _import(module_name)
        for name, expected in entry["values"].items():
            if f"{module_name}:{name}" in VALUES_MAY_DIFFER or isinstance(module, str):
                continue
            found, value = _lookup(module, name)
            if found:
                compared += 1
                if _comparable(value) != expected:
                    mismatches.append(f"{module_name}.{name}: PySOA {expected!r}, soa-core {_comparable(value)!r}")
    assert not mismatches, "public constants differ from PySOA 1.4.9:\n" + "\n".join(mismatches)
    assert compared >= 15, f"only {compared} constants compared: the probe lost its values"
