"""The asyncio client: every call style of :class:`~pysoa.client.Client`, awaitable.

One :class:`AsyncClient` (and one transport connection per service) serves any number of concurrent
tasks: each request's response is routed to the task awaiting it by request id
(:class:`~pysoa.common.transport.message.ResponseRouter`), read by one reader task per service that
runs while responses are outstanding. A task cancelled while it awaits a response abandons its
request: the response, should it still come, is dropped.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Any, ClassVar

from conformity import fields
from conformity.settings import SettingsData, SettingsSchema

from pysoa.client._core import ClientCore, HandlerCore
from pysoa.client._jobs import (
    action_outcome,
    action_outcomes,
    checked_responses,
    jobs_per_action,
    raise_for_errors,
    reusable_switches,
)
from pysoa.common.middleware.async_client import (
    AsyncClientMiddleware,
    AsyncRequestMiddlewareTask,
    AsyncResponseMiddlewareTask,
)
from pysoa.common.settings import SOASettings
from pysoa.common.transport.async_base import AsyncClientTransport
from pysoa.common.transport.message import ResponseRouter, deadline_after, time_left
from pysoa.common.types import ActionRequest, ActionResponse, Error, JobRequest, JobResponse
from pysoa.errors import InvalidMessageError, MessageReceiveTimeout, TransportError
from pysoa.plugins.reference import PluginReference

__all__ = ["AsyncClient", "AsyncClientSettings", "AsyncServiceHandler"]

# Bound once: looking a classmethod up binds it anew on every call (one per response).
_job_response_from_dict = JobResponse.from_dict


class AsyncClientSettings(SOASettings):
    """The settings of one service for :class:`AsyncClient`: the same keys as the sync client's.

    ``transport`` names the transport as for the sync client (``'redis'``, ``'local'``, ...); the
    plugin's async class is used. ``middleware`` lists async client middleware.
    """

    schema: SettingsSchema = {
        "transport": PluginReference(
            "async client transport", AsyncClientTransport, description="The transport to the service"
        ),
        "middleware": fields.List(
            PluginReference("async client middleware", AsyncClientMiddleware),
            description="Async client middleware, outermost first",
        ),
    }
    defaults: SettingsData = {
        "transport": "redis",
        "middleware": [],
    }


class AsyncServiceHandler(HandlerCore[AsyncClientSettings, AsyncRequestMiddlewareTask, AsyncResponseMiddlewareTask]):
    """One per service per client: the transport, the middleware stacks and the routing of responses."""

    transport: AsyncClientTransport
    middleware: list[AsyncClientMiddleware]

    def __init__(self, service_name: str, settings: AsyncClientSettings) -> None:
        super().__init__(service_name, settings, self._base_send_request, self._base_get_response)
        self._router: ResponseRouter[asyncio.Future[JobResponse], JobResponse] = ResponseRouter()
        # Requests sent with send_request and not yet handed out by get_all_responses, in send order.
        self._unclaimed: dict[Any, None] = {}
        self._reader: asyncio.Task[None] | None = None

    # --- sending ---------------------------------------------------------------------------------

    async def send_request(
        self,
        job_request: JobRequest | dict[str, Any],
        message_expiry_in_seconds: float | None = None,
        expect_response: bool = True,
    ) -> Any:
        """Send a job; returns its request id. Its response is routed from the moment it is sent."""
        request_id, meta, job_request = self.new_request(job_request)
        if expect_response:
            self._router.expect(request_id, asyncio.get_running_loop().create_future())
        try:
            await self._send_stack(request_id, meta, job_request, message_expiry_in_seconds)  # type: ignore[arg-type]
        except BaseException:
            self._router.abandon(request_id)
            raise
        return request_id

    async def _base_send_request(
        self,
        request_id: Any,
        meta: dict[str, Any],
        job_request: JobRequest | dict[str, Any],
        message_expiry_in_seconds: float | None = None,
    ) -> None:
        await self.transport.send_request_message(
            request_id, meta, self.wire_body(job_request), message_expiry_in_seconds
        )

    # --- receiving ---------------------------------------------------------------------------------

    def abandon(self, request_id: Any) -> None:
        """Stop waiting for ``request_id``: its response, should it still come, is dropped."""
        future = self._router.accept(request_id)
        if future is not None:
            if future.done() and not future.cancelled():
                future.exception()  # failed by its timer as the caller was cancelled: nothing left to report it
            future.cancel()
        self._unclaimed.pop(request_id, None)

    async def wait_for(self, request_id: Any, timeout: float | None = None) -> JobResponse:
        """Await the response to ``request_id``; :class:`MessageReceiveTimeout` after ``timeout`` seconds.

        A timeout, an error or a cancellation abandons the request. ``timeout`` ``None`` waits for
        the transport's ``receive_timeout_in_seconds``, as the sync client does.
        """
        if timeout is None:
            timeout = self.transport.receive_timeout_in_seconds
        try:
            return await self._receive_stack(request_id, timeout)
        except BaseException:
            self.abandon(request_id)
            raise

    async def _base_get_response(self, request_id: Any, timeout: float | None) -> JobResponse:
        future = self._router.owner(request_id)
        if future is None:
            raise MessageReceiveTimeout(f"No response to request {request_id} is outstanding for {self.service_name}")
        self._ensure_reader()
        if timeout is None:
            return await future
        # A timer that fails the future itself (the reader drops a response whose future is done): cheaper than an
        # asyncio.timeout scope per call, and as punctual.
        expiry = asyncio.get_running_loop().call_later(timeout, self._expire, future, timeout)
        try:
            return await future
        finally:
            expiry.cancel()

    def _expire(self, future: asyncio.Future[JobResponse], timeout: float) -> None:
        if not future.done():
            future.set_exception(
                MessageReceiveTimeout(f"No response from {self.service_name!r} after waiting {timeout} s")
            )

    def _ensure_reader(self) -> None:
        if self._reader is None or self._reader.done():
            self._reader = asyncio.get_running_loop().create_task(
                self._read_responses(), name=f"pysoa-async-client-reader-{self.service_name}"
            )

    async def _read_responses(self) -> None:
        """Route responses to their futures while any are outstanding; fail them all if the transport fails."""
        router = self._router
        transport = self.transport
        while len(router):
            try:
                request_id, _meta, body = await transport.receive_response_message()
            except MessageReceiveTimeout:
                continue
            except Exception as exc:
                self._fail_all(exc)
                return
            if body is None:
                self._fail_all(MessageReceiveTimeout(f"The transport to {self.service_name} expects no response"))
                return
            future = router.accept(request_id)
            if future is None or future.done():
                continue  # a late response to a call that gave up (or a duplicate): drop it
            try:
                future.set_result(_job_response_from_dict(body))
            except (KeyError, TypeError, AttributeError, ValueError) as exc:
                future.set_exception(
                    InvalidMessageError(
                        f"Malformed job response from {self.service_name}: {exc}", request_id=request_id
                    )
                )

    def _fail_all(self, exc: BaseException) -> None:
        for future in self._router.clear().values():
            if not future.done():
                future.set_exception(exc)

    async def get_all_responses(
        self, receive_timeout_in_seconds: float | None = None
    ) -> AsyncIterator[tuple[Any, JobResponse]]:
        """Yield ``(request_id, response)`` for every request sent with :meth:`send_request` and not yet yielded."""
        while self._unclaimed:
            request_id = next(iter(self._unclaimed))
            del self._unclaimed[request_id]
            yield request_id, await self.wait_for(request_id, receive_timeout_in_seconds)

    def claim_later(self, request_id: Any) -> None:
        self._unclaimed[request_id] = None

    async def aclose(self) -> None:
        reader, self._reader = self._reader, None
        self._fail_all(MessageReceiveTimeout(f"The client of {self.service_name} was closed"))
        if reader is not None and not reader.done():
            reader.cancel()
            try:
                await reader
            except asyncio.CancelledError:
                pass
        await self.transport.aclose()


class AsyncClient(ClientCore[AsyncClientSettings, AsyncServiceHandler]):
    """Calls actions of services from asyncio code. ``config`` maps each service name to its client settings.

    The settings are those of :class:`~pysoa.client.Client`, and so are the call methods, as
    coroutines. Share one client between the tasks of one event loop (not between loops).
    :meth:`with_context` and :meth:`with_deadline` make views that share the connections.
    """

    settings_class: ClassVar[type[AsyncClientSettings]] = AsyncClientSettings
    handler_class: ClassVar[type[AsyncServiceHandler]] = AsyncServiceHandler
    _settings_label: ClassVar[str] = "async client"

    async def aclose(self) -> None:
        """Close the transports this client opened; a later call opens new ones."""
        handlers = list(self.handlers.values())
        self.handlers.clear()
        for handler in handlers:
            await handler.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def _get_handler(self, service_name: str) -> AsyncServiceHandler:
        handler = self.handlers.get(service_name)
        if handler is None:
            settings = self._settings_for(service_name)
            handler = self.handlers[service_name] = self.handler_class(service_name, settings)
        return handler

    async def _call_job(self, service_name: str, job: dict[str, Any], timeout: float | None) -> JobResponse:
        """Send one job and await its response, ending at the deadline set when it was sent.

        Every call method goes through here (test stubs hook in here).
        """
        deadline = deadline_after(timeout)
        handler = self._get_handler(service_name)
        request_id = await handler.send_request(job, timeout)
        return await handler.wait_for(request_id, time_left(deadline))

    # --- non-blocking primitives ------------------------------------------------------------------

    async def send_request(
        self,
        service_name: str,
        actions: Iterable[Mapping[str, Any] | ActionRequest],
        switches: Iterable[Any] | None = None,
        correlation_id: str | None = None,
        continue_on_error: bool = False,
        context: Mapping[str, Any] | None = None,
        control_extra: Mapping[str, Any] | None = None,
        message_expiry_in_seconds: float | None = None,
        suppress_response: bool = False,
    ) -> Any:
        """Send one job without awaiting its response; returns the request id for :meth:`get_all_responses`."""
        if not suppress_response:
            message_expiry_in_seconds = self._call_timeout(message_expiry_in_seconds, service_name)
        job = self._make_job(
            actions,
            switches,
            correlation_id,
            continue_on_error,
            context,
            control_extra,
            message_expiry_in_seconds,
            suppress_response,
        )
        handler = self._get_handler(service_name)
        request_id = await handler.send_request(job, message_expiry_in_seconds, expect_response=not suppress_response)
        if not suppress_response:
            handler.claim_later(request_id)
        return request_id

    def get_all_responses(
        self, service_name: str, receive_timeout_in_seconds: float | None = None
    ) -> AsyncIterator[tuple[Any, JobResponse]]:
        """``async for request_id, response in ...``: the responses to this client's :meth:`send_request` calls."""
        return self._get_handler(service_name).get_all_responses(receive_timeout_in_seconds)

    # --- calls -----------------------------------------------------------------------------------------

    async def call_actions(
        self,
        service_name: str,
        actions: Iterable[Mapping[str, Any] | ActionRequest],
        expansions: Mapping[str, Any] | None = None,
        raise_job_errors: bool = True,
        raise_action_errors: bool = True,
        timeout: float | None = None,
        switches: Iterable[Any] | None = None,
        correlation_id: str | None = None,
        continue_on_error: bool = False,
        context: Mapping[str, Any] | None = None,
        control_extra: Mapping[str, Any] | None = None,
    ) -> JobResponse:
        """Call several actions as one job, run serially by one server; returns the :class:`JobResponse`."""
        self._check_expansions(expansions)
        if expansions:
            switches = reusable_switches(switches)
        timeout = self._call_timeout(timeout, service_name)
        job = self._make_job(
            actions, switches, correlation_id, continue_on_error, context, control_extra, timeout, False
        )
        response = await self._call_job(service_name, job, timeout)
        raise_for_errors(response, raise_job_errors, raise_action_errors)
        if expansions:
            await self._expand(response.actions, expansions, timeout, switches, correlation_id, context, control_extra)
        return response

    async def call_action(
        self,
        service_name: str,
        action: str,
        body: Mapping[str, Any] | None = None,
        expansions: Mapping[str, Any] | None = None,
        raise_job_errors: bool = True,
        raise_action_errors: bool = True,
        timeout: float | None = None,
        switches: Iterable[Any] | None = None,
        correlation_id: str | None = None,
        context: Mapping[str, Any] | None = None,
        control_extra: Mapping[str, Any] | None = None,
    ) -> Any:
        """Call one action; returns its :class:`ActionResponse` (the job errors, when not raised)."""
        response = await self.call_actions(
            service_name,
            [{"action": action, "body": body or {}}],
            expansions=expansions,
            raise_job_errors=raise_job_errors,
            raise_action_errors=raise_action_errors,
            timeout=timeout,
            switches=switches,
            correlation_id=correlation_id,
            context=context,
            control_extra=control_extra,
        )
        return action_outcome(response)

    async def call_jobs_parallel(
        self,
        jobs: Iterable[Mapping[str, Any]],
        expansions: Mapping[str, Any] | None = None,
        raise_job_errors: bool = True,
        raise_action_errors: bool = True,
        catch_transport_errors: bool = False,
        timeout: float | None = None,
        switches: Iterable[Any] | None = None,
        correlation_id: str | None = None,
        continue_on_error: bool = False,
        context: Mapping[str, Any] | None = None,
        control_extra: Mapping[str, Any] | None = None,
    ) -> list[JobResponse | TransportError]:
        """Send every job at once, over one connection per service; their responses in input order.

        With ``catch_transport_errors`` a transport error takes the place of that job's response
        instead of being raised (and the other jobs are still awaited).
        """
        self._check_expansions(expansions)
        jobs = list(jobs)
        switches = reusable_switches(switches)
        timeout, out_of_time = self._parallel_timeout(timeout, catch_transport_errors)
        if out_of_time is not None:
            return [out_of_time for _ in jobs]
        deadline = deadline_after(timeout)

        sent: list[tuple[AsyncServiceHandler, Any] | TransportError] = []
        try:
            for job in jobs:
                try:
                    body = self._make_job(
                        job["actions"],
                        switches,
                        correlation_id,
                        continue_on_error,
                        context,
                        control_extra,
                        timeout,
                        False,
                    )
                    handler = self._get_handler(job["service_name"])
                    sent.append((handler, await handler.send_request(body, timeout)))
                except TransportError as exc:
                    if not catch_transport_errors:
                        raise
                    sent.append(exc)
            waits = [
                item if isinstance(item, TransportError) else item[0].wait_for(item[1], time_left(deadline))
                for item in sent
            ]
            outcomes = await asyncio.gather(*(_outcome(w) for w in waits))
        except BaseException:
            for item in sent:
                if not isinstance(item, TransportError):
                    item[0].abandon(item[1])
            raise
        results: list[JobResponse | TransportError] = []
        for outcome in outcomes:
            if isinstance(outcome, TransportError) and not catch_transport_errors:
                raise outcome
            results.append(outcome)
        responses = checked_responses(results, raise_job_errors, raise_action_errors)
        if expansions:
            for response in responses:
                await self._expand(
                    response.actions, expansions, timeout, switches, correlation_id, context, control_extra
                )
        return results

    async def call_actions_parallel(
        self,
        service_name: str,
        actions: Iterable[Mapping[str, Any] | ActionRequest],
        expansions: Mapping[str, Any] | None = None,
        raise_job_errors: bool = True,
        raise_action_errors: bool = True,
        catch_transport_errors: bool = False,
        timeout: float | None = None,
        switches: Iterable[Any] | None = None,
        correlation_id: str | None = None,
        context: Mapping[str, Any] | None = None,
        control_extra: Mapping[str, Any] | None = None,
    ) -> list[ActionResponse | list[Error] | TransportError]:
        """Each action becomes its own job, so several servers can run them at once; results in input order."""
        results = await self.call_jobs_parallel(
            jobs_per_action(service_name, actions),
            expansions=expansions,
            raise_job_errors=raise_job_errors,
            raise_action_errors=raise_action_errors,
            catch_transport_errors=catch_transport_errors,
            timeout=timeout,
            switches=switches,
            correlation_id=correlation_id,
            context=context,
            control_extra=control_extra,
        )
        return action_outcomes(results)

    # --- expansions ----------------------------------------------------------------------------------

    async def _expand(
        self,
        action_responses: list[ActionResponse],
        expansions: Mapping[str, Any],
        timeout: float | None,
        switches: Iterable[Any] | None,
        correlation_id: str | None,
        context: Mapping[str, Any] | None,
        control_extra: Mapping[str, Any] | None,
    ) -> None:
        if self.expansion_converter is None:
            return
        from pysoa.client.expander import expansion_rounds

        rounds = expansion_rounds(self.expansion_converter, action_responses, expansions)
        jobs = next(rounds, None)
        while jobs is not None:
            responses = await self.call_jobs_parallel(
                jobs,
                raise_job_errors=False,
                raise_action_errors=False,
                timeout=timeout,
                switches=switches,
                correlation_id=correlation_id,
                context=context,
                control_extra=control_extra,
            )
            try:
                # Without catch_transport_errors every result is a JobResponse.
                jobs = rounds.send([r for r in responses if isinstance(r, JobResponse)])
            except StopIteration:
                break


async def _outcome(wait: Any) -> Any:
    """The response a wait yields, or the transport error it raised (``wait`` may be that error already)."""
    if isinstance(wait, TransportError):
        return wait
    try:
        return await wait
    except TransportError as exc:
        return exc
