"""The serializer contract. A serializer plugin subclasses :class:`Serializer`."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from conformity import fields

__all__ = ["DEFAULT_MAX_DECODE_BYTES", "Serializer", "find_value_path"]

# Decoders refuse larger inputs before looking at them; transports pass their own, smaller limit.
DEFAULT_MAX_DECODE_BYTES = 64 * 1024 * 1024


class Serializer(ABC):
    """Turns a message dict into bytes and back.

    Subclasses set ``name`` (the plugin name used in settings) and ``mime_type`` (the content type
    carried on the wire). ``dict_to_blob`` raises only :class:`~pysoa.errors.EncodeError`;
    ``blob_to_dict`` raises only :class:`~pysoa.errors.DecodeError`, whatever the input, and
    rejects inputs longer than ``max_message_size_in_bytes`` before decoding them.
    """

    name: ClassVar[str] = ""
    mime_type: ClassVar[str] = ""
    settings_schema: ClassVar[fields.Base] = fields.Dictionary(
        {"max_message_size_in_bytes": fields.Integer(gt=0)},
        optional_keys=("max_message_size_in_bytes",),
    )

    def __init__(self, max_message_size_in_bytes: int = DEFAULT_MAX_DECODE_BYTES) -> None:
        self.max_message_size_in_bytes = max_message_size_in_bytes

    @abstractmethod
    def dict_to_blob(self, message_dict: Mapping[str, Any]) -> bytes:
        """Serialize a message. Raises :class:`~pysoa.errors.EncodeError` naming the offending type."""

    @abstractmethod
    def blob_to_dict(self, blob: bytes) -> dict[str, Any]:
        """Deserialize a message (its top level must be a map). Raises only :class:`~pysoa.errors.DecodeError`."""

    def envelope_head(self, blob: bytes) -> tuple[Any, dict[str, Any]] | None:
        """The ``request_id`` and ``meta`` of an envelope, read without decoding its ``body``.

        For a server answering a request too large to decode whole: it can still tell the caller
        why. ``None`` when they cannot be read (no such keys, malformed input) or when the format
        cannot be read in part, which is this default. Raises nothing.
        """
        return None


def find_value_path(root: object, matches: Callable[[object], bool]) -> str | None:
    """The dotted path (``body.actions.0.x``) of the first value or key in ``root`` that ``matches``.

    For encode errors that name where the offending value is; ``None`` when it is ``root`` itself
    or is not found. Walks dicts, lists and tuples without recursion (a cyclic or very deep
    message cannot overflow the stack).
    """
    stack: list[tuple[object, str, int]] = [(root, "", 0)]
    while stack:
        node, path, depth = stack.pop()
        if matches(node):
            return path or None
        if depth > 512:  # as deep as msgpack's own recursion limit
            continue
        if isinstance(node, dict):
            children: Any = node.items()
        elif isinstance(node, list | tuple):
            children = enumerate(node)
        else:
            continue
        for key, child in reversed(list(children)):
            if matches(key):
                return f"{path}.{key!r} (a key)" if path else f"{key!r} (a key)"
            stack.append((child, f"{path}.{key}" if path else str(key), depth + 1))
    return None
