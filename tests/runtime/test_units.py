"""The runtime's pure parts: crash-loop rule, worker cap, file watcher, re-exec command, options, JSON output."""

from __future__ import annotations

import datetime
import decimal
import logging
import os
import sys
import time
import types
from pathlib import Path

import pytest
from currint import Amount

from pysoa._cli_calls import json_default
from pysoa.errors import ConfigurationError
from pysoa.runtime import _reloader
from pysoa.runtime._supervisor import RespawnPolicy, describe_exit, effective_worker_count
from pysoa.runtime.standalone import EXIT_STARTED_AS_SCRIPT, check_not_started_as_script, parse_options


class TestRespawnPolicy:
    def test_three_restarts_within_15_seconds_are_allowed_a_fourth_is_not(self) -> None:
        policy = RespawnPolicy()
        assert policy.exceeded([], 100.0) is None
        assert policy.exceeded([100.0, 101.0], 102.0) is None
        assert policy.exceeded([100.0, 101.0, 102.0], 103.0) == (3, 15.0)

    def test_restarts_older_than_the_window_do_not_count(self) -> None:
        assert RespawnPolicy().exceeded([100.0, 101.0, 102.0], 117.5) is None

    def test_eight_restarts_within_60_seconds_are_a_crash_loop_too(self) -> None:
        spread = [0.0, 8.0, 16.0, 24.0, 32.0, 40.0, 48.0, 56.0]  # never 3 within 15 s
        assert RespawnPolicy().exceeded(spread, 58.0) == (8, 60.0)
        assert RespawnPolicy().exceeded(spread[1:], 58.0) is None


def test_worker_count_is_capped_at_five_per_cpu_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, "pysoa.server.supervisor"):
        assert effective_worker_count(10, 2) == 10
        assert caplog.records == []
        assert effective_worker_count(11, 2) == 10
    assert "Asked for 11 worker processes, but this machine has 2 CPUs; starting 10" in caplog.text
    assert effective_worker_count(7, None) == 5


def test_exit_descriptions_name_the_signal() -> None:
    assert describe_exit(0) == "exited with status 0"
    assert describe_exit(-9) == "was killed by SIGKILL"
    assert describe_exit(3) == "exited with status 3"


class TestFileWatcher:
    @pytest.fixture
    def package(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
        root = tmp_path / "watched"
        (root / "sub").mkdir(parents=True)
        (root / "__init__.py").write_text("")
        (root / "sub" / "__init__.py").write_text("")
        (root / "sub" / "module.py").write_text("X = 1\n")
        (root / "__pycache__").mkdir()
        (root / "__pycache__" / "ignored.py").write_text("")
        monkeypatch.syspath_prepend(str(tmp_path))
        return root

    def touch(self, path: Path, text: str) -> None:
        path.write_text(text)
        later = time.time() + 5
        os.utime(path, (later, later))

    def test_a_named_package_is_watched_whole_new_files_included(self, package: Path) -> None:
        watcher = _reloader.FileWatcher(["watched"])
        assert watcher.files() == {str(package / "__init__.py"), str(package / "sub" / "__init__.py"),
                                   str(package / "sub" / "module.py")}  # fmt: skip
        assert watcher.changed() == []
        self.touch(package / "sub" / "module.py", "X = 2\n")
        (package / "new.py").write_text("")
        assert watcher.changed() == [str(package / "new.py"), str(package / "sub" / "module.py")]
        assert watcher.changed() == []
        (package / "new.py").unlink()
        assert watcher.changed() == [str(package / "new.py")]

    def test_without_names_loaded_modules_and_the_roots_packages_are_watched(self, package: Path) -> None:
        watcher = _reloader.FileWatcher(roots=["watched.sub.module"])
        files = watcher.files()
        assert str(package / "sub" / "module.py") in files  # not imported, but in the server's package
        assert _reloader.__file__ in files  # loaded

    def test_an_unknown_module_is_a_clear_error(self) -> None:
        with pytest.raises(ConfigurationError, match="Cannot watch module 'no_such_module_here': no such module"):
            _reloader.FileWatcher(["no_such_module_here"])


def test_the_reloader_re_runs_modules_with_dash_m_and_scripts_by_path(monkeypatch: pytest.MonkeyPatch) -> None:
    as_module = types.ModuleType("__main__")
    as_module.__spec__ = types.SimpleNamespace(name="my_service.standalone")  # type: ignore[assignment]
    monkeypatch.setitem(sys.modules, "__main__", as_module)
    monkeypatch.setattr(sys, "warnoptions", ["error"])
    monkeypatch.setattr(sys, "_xoptions", {"dev": True})
    assert _reloader.child_command(["/x/standalone.py", "-s", "settings"]) == [
        sys.executable, "-Werror", "-Xdev", "-m", "my_service.standalone", "-s", "settings",
    ]  # fmt: skip
    as_module.__spec__ = types.SimpleNamespace(name="pysoa.__main__")  # type: ignore[assignment]
    assert _reloader.child_command(["x", "serve"])[-3:] == ["-m", "pysoa", "serve"]
    as_module.__spec__ = None
    monkeypatch.setenv("PYSOA_RELOADER_WRAPPER_BIN", "/usr/bin/env")
    assert _reloader.child_command(["/venv/bin/soa", "serve"]) == [
        "/usr/bin/env", sys.executable, "-Werror", "-Xdev", "/venv/bin/soa", "serve",
    ]  # fmt: skip


def test_the_lifeline_variable_only_counts_in_a_reloader_child(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(_reloader.LIFELINE_ENV, "7")
    assert _reloader.parent_lifeline_fd() is None
    monkeypatch.setenv(_reloader.RUN_MAIN_ENV, "true")
    assert _reloader.parent_lifeline_fd() == 7


def test_standalone_options() -> None:
    options = parse_options(["prog", "-s", "svc.settings", "--fork", "3", "--no-respawn", "-d", "--other", "x"])
    assert (options.settings, options.fork, options.respawn, options.daemon) == ("svc.settings", 3, False, True)
    assert options.watch is None
    assert options.worker_argv == ["prog", "-s", "svc.settings", "--fork", "3", "--no-respawn", "--other", "x"]
    assert parse_options(["prog", "-s", "m", "--use-file-watcher"]).watch == []
    assert parse_options(["prog", "-s", "m", "--use-file-watcher", "a, b"]).watch == ["a", "b"]
    assert parse_options(["prog"], use_django=True).settings is None


def test_the_double_import_trap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "pkg" / "sub").mkdir(parents=True)
    for init in (tmp_path / "pkg" / "__init__.py", tmp_path / "pkg" / "sub" / "__init__.py"):
        init.write_text("")
    script = types.ModuleType("__main__")
    script.__spec__ = None
    script.__file__ = str(tmp_path / "pkg" / "sub" / "standalone.py")
    monkeypatch.setitem(sys.modules, "__main__", script)
    monkeypatch.setattr(sys, "argv", [script.__file__, "-s", "pkg.settings"])
    with pytest.raises(SystemExit) as exit_info:
        check_not_started_as_script()
    assert exit_info.value.code == EXIT_STARTED_AS_SCRIPT == 99
    assert "python -m pkg.sub.standalone -s pkg.settings" in capsys.readouterr().err
    script.__file__ = str(tmp_path / "run_service.py")  # a script outside any package is fine
    check_not_started_as_script()


def test_json_output_of_values_beyond_json() -> None:
    assert json_default(datetime.datetime(2024, 1, 2, 3, 4, 5)) == "2024-01-02T03:04:05"
    assert json_default(datetime.date(2024, 1, 2)) == "2024-01-02"
    assert json_default(datetime.time(3, 4, 5, 6)) == "03:04:05.000006"
    assert json_default(decimal.Decimal("0.10")) == "0.10"
    assert json_default(Amount.from_code_and_minor("EUR", -5)) == "-0.05 EUR"
    assert json_default(b"\x00\x01") == "AAE="
    assert json_default({3}) == [3]
    assert json_default((1, 2)) == [1, 2]
    with pytest.raises(TypeError, match="Cannot show a object as JSON"):
        json_default(object())
