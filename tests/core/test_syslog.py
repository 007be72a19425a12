"""SyslogHandler on real sockets: PySOA's packets (NUL, fragments, preamble), MTU-aware UDP, truncation on streams."""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from pysoa.common.logging import SyslogHandler

LOOPBACK_UDP_LIMIT = 65535 - 28  # the largest candidate MTU, less the IP and UDP headers


@pytest.fixture
def receiver() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(5)
    yield sock
    sock.close()


def record(message: str) -> logging.LogRecord:
    return logging.LogRecord("app.module", logging.INFO, __file__, 1, message, None, None)


def datagrams(sock: socket.socket, count: int) -> list[bytes]:
    return [sock.recv(70000) for _ in range(count)]


def test_short_record_is_one_datagram_with_a_trailing_nul(receiver: socket.socket) -> None:
    handler = SyslogHandler(address=receiver.getsockname())
    handler.emit(record("hello"))
    handler.append_nul = False
    handler.ident = "svc: "
    handler.emit(record("bye"))
    assert datagrams(receiver, 2) == [b"<14>hello\x00", b"<14>svc: bye"]
    handler.close()


def test_udp_records_are_sized_for_the_path_mtu(receiver: socket.socket) -> None:
    handler = SyslogHandler(address=receiver.getsockname())
    assert handler.maximum_length == LOOPBACK_UDP_LIMIT  # loopback carries the largest candidate MTU
    message = "m" * 5000  # more than an Ethernet frame holds: still one datagram over loopback
    handler.emit(record(message))
    assert datagrams(receiver, 1) == [b"<14>" + message.encode() + b"\x00"]
    handler.close()


def test_long_record_is_fragmented_repeating_the_preamble(receiver: socket.socket) -> None:
    handler = SyslogHandler(address=receiver.getsockname())
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s [cid=abc]: %(message)s"))
    handler.maximum_length = 120
    preamble = b"<14>INFO app.module [cid=abc]: "
    message = "é" * 150  # 300 bytes of two-byte characters
    handler.emit(record(message))
    parts: list[bytes] = []
    while not parts or b"... (cont'd)\x00" in parts[-1]:
        parts.append(datagrams(receiver, 1)[0])

    assert len(parts) > 3
    assert all(len(part) <= 120 for part in parts)
    assert all(part.startswith(preamble) and part.endswith(b"\x00") for part in parts)
    texts = [part[len(preamble) : -1] for part in parts]
    assert all(text.endswith(b"... (cont'd)") for text in texts[:-1])
    assert all(text.startswith(b"(cont'd #%d) ..." % number) for number, text in enumerate(texts[1:], 2))
    pieces = [texts[0].removesuffix(b"... (cont'd)")]
    for number, text in enumerate(texts[1:], 2):
        pieces.append(text.removeprefix(b"(cont'd #%d) ..." % number).removesuffix(b"... (cont'd)"))
    assert all(piece.decode("utf-8") for piece in pieces)  # no character was split
    assert b"".join(pieces).decode("utf-8") == message
    handler.close()


def test_a_record_that_exactly_fills_the_room_is_already_too_long(receiver: socket.socket) -> None:
    handler = SyslogHandler(address=receiver.getsockname())
    handler.maximum_length = 50
    room = 50 - len(b"<14>") - len(b"\x00")
    handler.emit(record("a" * (room - 1)))
    assert datagrams(receiver, 1) == [b"<14>" + b"a" * (room - 1) + b"\x00"]
    handler.emit(record("b" * room))
    first, second = datagrams(receiver, 2)
    assert first == b"<14>" + b"b" * (room - 12) + b"... (cont'd)\x00"
    assert second == b"<14>(cont'd #2) ..." + b"b" * 12 + b"\x00"
    handler.close()


def test_truncate_mode_sends_one_cut_datagram(receiver: socket.socket) -> None:
    handler = SyslogHandler(address=receiver.getsockname(), overflow=SyslogHandler.OVERFLOW_BEHAVIOR_TRUNCATE)
    handler.maximum_length = 100
    handler.emit(record("ü" * 1000))
    (part,) = datagrams(receiver, 1)
    assert len(part) <= 100
    text = part.removeprefix(b"<14>").removesuffix(b"\x00").decode("utf-8")
    assert set(text) == {"ü"}
    assert len(text) == (100 - 5) // 2
    handler.close()


def _stream_payload(server: socket.socket, expected: int) -> bytes:
    connection, _ = server.accept()
    with connection:
        connection.settimeout(5)
        received = b""
        while len(received) < expected:
            chunk = connection.recv(1 << 16)
            if not chunk:
                break
            received += chunk
        return received


@pytest.mark.parametrize("kind", ["tcp", "unix"])
def test_stream_records_are_truncated_at_one_mebibyte(kind: str, tmp_path: Path) -> None:
    if kind == "tcp":
        server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        server.bind(("127.0.0.1", 0))
        address: tuple[str, int] | str = server.getsockname()
    else:
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        address = str(tmp_path / "syslog.sock")
        server.bind(address)
    server.listen(1)
    server.settimeout(5)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(_stream_payload(server, 1024 * 1024)))
    reader.start()
    # FRAGMENT is asked for, but a stream has no datagram size: the record is truncated.
    handler = SyslogHandler(
        address=address,
        socket_type=socket.SOCK_STREAM if kind == "tcp" else None,
        overflow=SyslogHandler.OVERFLOW_BEHAVIOR_FRAGMENT,
    )
    assert handler.maximum_length == 1024 * 1024
    assert handler.overflow == SyslogHandler.OVERFLOW_BEHAVIOR_TRUNCATE
    handler.emit(record("z" * (2 * 1024 * 1024)))
    reader.join(10)
    handler.close()
    server.close()
    (payload,) = received
    assert len(payload) == 1024 * 1024
    assert payload.startswith(b"<14>zzz")
    assert payload.endswith(b"z\x00")


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
