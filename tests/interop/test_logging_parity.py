"""Logging parity with the real PySOA 1.4.9: every key name it masked, and SyslogHandler's packets byte for byte."""

from __future__ import annotations

import ast
import json
import logging
import socket
import subprocess
from pathlib import Path
from typing import Any

import pytest

from pysoa.common.logging import RecursivelyCensoredDictWrapper, SyslogHandler

pytestmark = [pytest.mark.interop]

# Runs inside PySOA 1.4.9's venv: one JSON request on stdin, one JSON answer on stdout.
_PYSOA_SIDE = r"""
import json, logging, socket, sys
from pysoa.common.logging import RecursivelyCensoredDictWrapper, SyslogHandler
from syslog_cases import emit_cases

request = json.load(sys.stdin)
if request["what"] == "names":
    names = sorted(RecursivelyCensoredDictWrapper.SENSITIVE_FIELDS)
    masked = eval(repr(RecursivelyCensoredDictWrapper({name: "value" for name in names})))
    print(json.dumps({"names": names, "masked": sorted(k for k, v in masked.items() if v != "value")}))
else:
    print(json.dumps(emit_cases(SyslogHandler)))
"""

# Shared by both sides (written next to the script, imported by it and by this module): emits the same
# records through a handler class on a private UDP socket and returns every datagram, latin-1 decoded.
_CASES_MODULE = r"""
import logging, socket

MESSAGES = ["hello", "é" * 300, "word " * 120, "x" * 154, "x" * 155, "日本語" * 80, "\n".join(["line"] * 60)]
FORMATS = ["%(message)s", "%(levelname)s %(name)s cid=%(process)d: %(message)s", "%(message)s [%(name)s]"]


def emit_cases(handler_class):
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    receiver.settimeout(10)
    out = []
    handler = handler_class(address=receiver.getsockname())
    out.append(["maximum_length", handler.maximum_length])
    for fmt in FORMATS:
        for overflow in (handler_class.OVERFLOW_BEHAVIOR_FRAGMENT, handler_class.OVERFLOW_BEHAVIOR_TRUNCATE):
            for ident, append_nul in (("", True), ("svc: ", False)):
                handler.setFormatter(logging.Formatter(fmt))
                handler.maximum_length, handler.overflow = 180, overflow
                handler.ident, handler.append_nul = ident, append_nul
                for message in MESSAGES:
                    record = logging.LogRecord("app.mod", logging.WARNING, "f.py", 1, message, None, None)
                    record.process = 4242
                    handler.emit(record)
                    # A marker sent through the handler's own socket arrives after the record's packets.
                    handler.socket.sendto(b"--end--", receiver.getsockname())
                    packets = []
                    while (packet := receiver.recv(70000)) != b"--end--":
                        packets.append(packet.decode("latin-1"))
                    out.append([fmt, overflow, ident, append_nul, message[:20], packets])
    handler.close()
    receiver.close()
    return out
"""


def _ask_pysoa(python: Path, tmp_path: Path, request: dict[str, Any]) -> Any:
    (tmp_path / "syslog_cases.py").write_text(_CASES_MODULE)
    result = subprocess.run(
        [str(python), "-c", _PYSOA_SIDE],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_every_name_pysoa_masks_is_masked(pysoa149_python: Path, tmp_path: Path) -> None:
    answer = _ask_pysoa(pysoa149_python, tmp_path, {"what": "names"})
    assert len(answer["names"]) > 200
    assert answer["masked"] == answer["names"]  # PySOA masks each of its names
    body = {name: f"value-{index}" for index, name in enumerate(answer["names"])}
    censored = ast.literal_eval(repr(RecursivelyCensoredDictWrapper(body)))
    assert [name for name in answer["names"] if censored[name] != "**********"] == []


def test_syslog_packets_match_pysoa(pysoa149_python: Path, tmp_path: Path) -> None:
    expected = _ask_pysoa(pysoa149_python, tmp_path, {"what": "syslog"})
    namespace: dict[str, Any] = {"logging": logging, "socket": socket}
    exec(compile(_CASES_MODULE, "syslog_cases", "exec"), namespace)
    actual = namespace["emit_cases"](SyslogHandler)
    assert actual[0] == expected[0] == ["maximum_length", 65535 - 28]
    assert len(actual) == len(expected)
    for mine, theirs in zip(actual[1:], expected[1:], strict=True):
        assert theirs[-1], f"PySOA sent nothing for {theirs[:-1]}"
        assert mine == theirs
