"""``soa plugins`` / ``python -m pysoa plugins``: the installed plugins with kind, distribution and version."""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import pysoa
from pysoa.cli import SUBCOMMANDS, main
from pysoa.plugins import BLOCK_ENV_VAR, PluginManager, set_plugin_manager

from .conftest import FakeDistribution
from .fakes import fake_plugin, make_plugin, no_classes


@pytest.fixture
def blocking_manager() -> Iterator[PluginManager]:
    manager = PluginManager(autoload=False, blocked=["redis", "zmq"])
    previous = set_plugin_manager(manager)
    yield manager
    set_plugin_manager(previous)


def _clean_env(**extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in (BLOCK_ENV_VAR, "PYTHONPATH")}
    env.update(extra)
    return env


class TestInProcess:
    def test_the_table_has_one_row_per_class(self, manager: PluginManager, capsys: pytest.CaptureFixture[str]) -> None:
        manager.register(fake_plugin(), name="fakes")
        assert main(["plugins"]) == 0
        lines = capsys.readouterr().out.splitlines()
        assert lines[0].split() == ["KIND", "NAME", "CLASS", "PLUGIN", "DISTRIBUTION", "VERSION"]
        rows = [line.split("  ") for line in lines[1:]]
        cells = [[cell.strip() for cell in row if cell.strip()] for row in rows]
        assert cells == [
            ["client transport", "fake", "tests.core.plugins.fakes:FakeClientTransport", "fakes", "-", "-"],
            ["server transport", "fake", "tests.core.plugins.fakes:FakeServerTransport", "fakes", "-", "-"],
            ["serializer", "fake", "tests.core.plugins.fakes:FakeSerializer", "fakes", "-", "-"],
            [
                "serializer",
                "msgpack",
                "pysoa.common.serializer.msgpack_serializer:MsgpackSerializer",
                "pysoa-builtin",
                "soa-core",
                pysoa.__version__,
            ],
            ["client middleware", "fake-mw", "tests.core.plugins.fakes:FakeClientMiddleware", "fakes", "-", "-"],
            ["server middleware", "fake-mw", "tests.core.plugins.fakes:FakeServerMiddleware", "fakes", "-", "-"],
        ]
        # The columns line up: every row starts its CLASS cell where the header's does.
        column = lines[0].index("CLASS")
        assert all(line[column - 2 : column] == "  " and line[column] != " " for line in lines[1:])

    def test_json_lists_the_same_rows(self, manager: PluginManager, capsys: pytest.CaptureFixture[str]) -> None:
        manager.register(fake_plugin(), name="fakes")
        assert main(["plugins", "--json"]) == 0
        assert json.loads(capsys.readouterr().out) == [info.as_dict() for info in manager.describe()]

    def test_the_block_list_is_shown(self, blocking_manager: PluginManager, capsys: pytest.CaptureFixture[str]) -> None:
        assert main(["plugins"]) == 0
        assert capsys.readouterr().out.endswith(f"\nBlocked by {BLOCK_ENV_VAR}: redis, zmq\n")

    def test_a_plugin_error_is_one_line_on_stderr_and_exit_status_1(
        self, manager: PluginManager, capsys: pytest.CaptureFixture[str]
    ) -> None:
        manager.register(make_plugin(pysoa_register_transport=no_classes), name="typo")
        assert main(["plugins"]) == 1
        captured = capsys.readouterr()
        assert captured.out == ""
        assert captured.err.startswith("soa plugins: error: Unknown hook, misspelled? plugin 'typo' implements")
        assert len(captured.err.strip().splitlines()) == 1

    def test_a_subcommand_is_required(self, capsys: pytest.CaptureFixture[str]) -> None:
        with pytest.raises(SystemExit) as caught:
            main([])
        assert caught.value.code == 2
        assert "required: COMMAND" in capsys.readouterr().err

    def test_every_subcommand_is_in_the_help(self, capsys: pytest.CaptureFixture[str]) -> None:
        with pytest.raises(SystemExit):
            main(["--help"])
        out = capsys.readouterr().out
        assert len({command.name for command in SUBCOMMANDS}) == len(SUBCOMMANDS)
        for command in SUBCOMMANDS:
            assert command.name in out
            assert command.help in out


class TestSubprocess:
    def test_python_m_pysoa_lists_the_installed_first_party_plugins(self) -> None:
        result = subprocess.run(
            [sys.executable, "-m", "pysoa", "plugins", "--json"],
            env=_clean_env(),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        rows = {(row["kind"], row["name"]): row for row in json.loads(result.stdout)}
        for kind, name, distribution in [
            ("serializer", "msgpack", "soa-core"),
            ("serializer", "json", "soa-json"),
            ("client transport", "local", "soa-local"),
            ("server transport", "local", "soa-local"),
        ]:
            row = rows[(kind, name)]
            assert row["distribution"] == distribution
            assert row["version"] == importlib.metadata.version(distribution)

    def test_the_soa_console_script_prints_the_table(self) -> None:
        soa = Path(sys.executable).with_name("soa")
        result = subprocess.run(
            [str(soa), "plugins"], env=_clean_env(), capture_output=True, text=True, timeout=60, check=False
        )
        assert result.returncode == 0, result.stderr
        header, *rows = result.stdout.splitlines()
        assert header.split() == ["KIND", "NAME", "CLASS", "PLUGIN", "DISTRIBUTION", "VERSION"]
        assert any(row.split()[:2] == ["serializer", "msgpack"] for row in rows)

    def test_a_broken_plugin_fails_without_a_traceback(self, fake_distribution: FakeDistribution) -> None:
        site = fake_distribution("soa-broken-cli", {"brokencli": "brokencli_hooks"}, {"brokencli_hooks": "1 / 0\n"})
        result = subprocess.run(
            [sys.executable, "-m", "pysoa", "plugins"],
            env=_clean_env(PYTHONPATH=str(site)),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 1
        assert result.stdout == ""
        assert result.stderr == (
            "soa plugins: error: Could not import plugin 'brokencli' (soa-broken-cli 1.0: brokencli_hooks): "
            f"ZeroDivisionError: division by zero. Set {BLOCK_ENV_VAR}=brokencli to run without it\n"
        )
