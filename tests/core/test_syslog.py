"""SyslogHandler: long records are fragmented or truncated, never lost or split mid-character."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator

import pytest

from pysoa.common.logging import SyslogHandler


@pytest.fixture
def receiver() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(5)
    yield sock
    sock.close()


def emit(handler: SyslogHandler, message: str) -> None:
    handler.emit(logging.LogRecord("t", logging.INFO, __file__, 1, message, None, None))


def datagrams(sock: socket.socket, count: int) -> list[str]:
    return [sock.recv(65535).decode("utf-8") for _ in range(count)]


def test_short_record_is_one_datagram(receiver: socket.socket) -> None:
    handler = SyslogHandler(address=receiver.getsockname())
    emit(handler, "hello")
    assert datagrams(receiver, 1) == ["<14>hello"]
    handler.close()


def test_long_record_is_fragmented_without_splitting_characters(receiver: socket.socket) -> None:
    handler = SyslogHandler(address=receiver.getsockname())
    message = "é" * 2000  # 4000 bytes of two-byte characters
    emit(handler, message)
    parts = datagrams(receiver, 3)
    assert all(len(p.encode()) <= SyslogHandler.MAXIMUM_UDP_LENGTH for p in parts)
    assert parts[0].endswith(" ... (cont'd)")
    assert parts[1].startswith("<14>(cont'd #2) ... ")
    body = "".join(
        p.removeprefix("<14>").removesuffix(" ... (cont'd)").split(" ... ", 1)[-1]
        if i
        else p.removeprefix("<14>").removesuffix(" ... (cont'd)")
        for i, p in enumerate(parts)
    )
    assert body == message
    handler.close()


def test_truncate_mode_sends_one_cut_datagram(receiver: socket.socket) -> None:
    handler = SyslogHandler(address=receiver.getsockname(), overflow=SyslogHandler.OVERFLOW_BEHAVIOR_TRUNCATE)
    emit(handler, "ü" * 1000)
    (part,) = datagrams(receiver, 1)
    assert len(part.encode()) <= SyslogHandler.MAXIMUM_UDP_LENGTH
    assert set(part.removeprefix("<14>")) == {"ü"}
    handler.close()


def test_pysoa_style_logging_config_with_syslog_handler_is_accepted() -> None:
    from pysoa.server.settings import ServerSettings

    settings = ServerSettings(
        {
            "transport": "local",
            "logging": {
                "version": 1,
                "handlers": {
                    "syslog": {
                        "class": "pysoa.common.logging.SyslogHandler",
                        "facility": SyslogHandler.LOG_LOCAL7,
                        "address": ("localhost", 514),
                    }
                },
                "root": {"handlers": ["syslog"], "level": "INFO"},
            },
        }
    )
    assert settings["logging"]["handlers"]["syslog"]["class"] == "pysoa.common.logging.SyslogHandler"
