"""AsyncStubClient: canned responses for asyncio code under test."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from pysoa.errors import CallActionError
from pysoa.test.async_stub_service import AsyncStubClient


def test_canned_bodies_and_errors_given_up_front_or_later() -> None:
    async def main() -> tuple[Any, Any, Any]:
        client = AsyncStubClient({"user": {"get_user": {"body": {"id": 1}}}})
        client.stub_action("user", "delete_user", errors=[{"code": "NOT_AUTHORIZED", "message": "No"}])
        client.stub_action("billing", "charge", body={"ok": True})  # a service added later
        got = await client.call_action("user", "get_user")
        charged = await client.call_action("billing", "charge", {"amount": 5})
        with pytest.raises(CallActionError) as caught:
            await client.call_action("user", "delete_user")
        return got.body, charged.body, caught.value.actions[0].errors[0]

    got, charged, error = asyncio.run(main())
    assert got == {"id": 1}
    assert charged == {"ok": True}
    assert (error.code, error.message) == ("NOT_AUTHORIZED", "No")


def test_concurrent_calls_each_get_their_canned_response() -> None:
    async def main() -> list[Any]:
        client = AsyncStubClient({"user": {"a": {"body": {"n": "a"}}, "b": {"body": {"n": "b"}}}})
        return await asyncio.gather(*(client.call_action("user", name) for name in "abab"))

    assert [r.body["n"] for r in asyncio.run(main())] == list("abab")


def test_an_unstubbed_action_is_unknown() -> None:
    async def main() -> Any:
        return await AsyncStubClient({"user": {}}).call_action("user", "nope", raise_action_errors=False)

    assert asyncio.run(main()).errors[0].code == "UNKNOWN"
