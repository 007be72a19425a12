"""Expansions: filling objects in responses with related objects fetched from other services.

A response object carrying ``'_type': 'book'`` and ``'author_id': 5`` can be *expanded* with
``expansions={'book': ['author']}``: the client asks the service named by the expansion's route
for author 5 and stores the answer in the book's ``author`` field. Configure the client with::

    Client(config, expansion_config={
        'type_routes': {
            'author_route': {
                'service': 'author', 'action': 'get_authors',
                'request_field': 'ids', 'response_field': 'authors',
            },
        },
        'type_expansions': {
            'book': {
                'author': {
                    'type': 'author', 'route': 'author_route',
                    'source_field': 'author_id', 'destination_field': 'author',
                },
            },
        },
    })

The route's action is called with ``{request_field: [id, ...]}`` and must answer
``{response_field: {id: object, ...}}``. ``'author.publisher'`` expands the fetched authors in
turn (nested expansions); a fetched value may also be a list of objects, each of which is
expanded. Ids are batched: one request per route per round, all routes of a round in parallel.
Fetched objects are searched again for objects of every requested type, so expansion continues
until nothing is left, except that an object is never expanded with an object it was itself
fetched for (which would never end). As in PySOA, the search for objects of a type stops at each
match: an object of that type nested inside a matching one is not expanded (unless a nested
expansion asks for it). An expansion whose request fails is left out, unless its
``raise_action_errors`` is set: then the call raises ``CallActionError`` / ``CallJobError``.
"""

from __future__ import annotations

import copy
from collections.abc import Generator, Hashable, Iterable, Mapping
from typing import Any, Protocol, TypeAlias

from conformity import fields
from conformity.settings import Settings, SettingsData, SettingsSchema

from pysoa.common.settings import SettingsError
from pysoa.common.types import ActionResponse, JobResponse
from pysoa.errors import CallActionError, CallJobError, InvalidExpansionKey

__all__ = [
    "ExpansionConverter",
    "ExpansionNode",
    "ExpansionSettings",
    "Expansions",
    "TypeExpansions",
    "TypeNode",
    "TypeRoutes",
    "expansion_rounds",
    "perform_expansions",
]


class JobsCaller(Protocol):
    """What expanding needs of the client (a :class:`pysoa.client.Client`): calling jobs in parallel.

    A protocol, so that this module, which the client imports, does not import the client back.
    """

    def call_jobs_parallel(self, jobs: Iterable[Mapping[str, Any]], **kwargs: Any) -> Any: ...


TYPE_KEY = "_type"


class ExpansionSettings(Settings):
    """``Client(expansion_config=...)``: ``type_routes`` and ``type_expansions`` (see the module docs)."""

    ImproperlyConfigured = SettingsError  # type: ignore[assignment]

    schema: SettingsSchema = {
        "type_routes": fields.SchemalessDictionary(
            key_type=fields.UnicodeString(),
            value_type=fields.Dictionary(
                {
                    "service": fields.UnicodeString(description="The service to call"),
                    "action": fields.UnicodeString(description="The action to call"),
                    "request_field": fields.UnicodeString(description="The request field taking the list of ids"),
                    "response_field": fields.UnicodeString(
                        description="The response field holding the objects, keyed by id"
                    ),
                }
            ),
            description="Where objects are fetched from, by route name",
        ),
        "type_expansions": fields.SchemalessDictionary(
            key_type=fields.UnicodeString(),
            value_type=fields.SchemalessDictionary(
                key_type=fields.UnicodeString(),
                value_type=fields.Dictionary(
                    {
                        "type": fields.Nullable(fields.UnicodeString(description="The fetched object's type")),
                        "route": fields.UnicodeString(description="A key of type_routes"),
                        "source_field": fields.UnicodeString(description="The field holding the id"),
                        "destination_field": fields.UnicodeString(description="The field receiving the object"),
                        "raise_action_errors": fields.Boolean(description="Raise when fetching fails"),
                    },
                    optional_keys=("raise_action_errors",),
                ),
            ),
            description="The expansions of each object type, by expansion name",
        ),
    }
    defaults: SettingsData = {"type_routes": {}, "type_expansions": {}}

    def set(self, data: SettingsData) -> None:
        super().set(data)
        routes = self["type_routes"]
        problems = []
        for type_name, expansions in self["type_expansions"].items():
            for name, expansion in expansions.items():
                where = f"type_expansions.{type_name}.{name}"
                if expansion["route"] not in routes:
                    problems.append(f"{where}.route: no type_routes entry named {expansion['route']!r}")
                if expansion["source_field"] == expansion["destination_field"]:
                    problems.append(f"{where}: source_field and destination_field must differ")
        if problems:
            raise SettingsError(f"Invalid {type(self).__name__}:\n" + "\n".join(f"  - {p}" for p in problems))


class TypeNode:
    """The expansions requested for objects of one type (the root of an expansion tree)."""

    def __init__(self, node_type: str | None) -> None:
        self.type = node_type
        self._expansions: dict[str, ExpansionNode] = {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.type!r}, {self.to_strings()!r})"

    @property
    def expansions(self) -> list[ExpansionNode]:
        return list(self._expansions.values())

    def add_expansion(self, expansion_node: ExpansionNode) -> None:
        """Add an expansion; one already present under that name gets the new one's sub-expansions."""
        existing = self._expansions.get(expansion_node.name)
        if existing is None:
            self._expansions[expansion_node.name] = expansion_node
        else:
            for child in expansion_node.expansions:
                existing.add_expansion(child)

    def get_expansion(self, name: str) -> ExpansionNode | None:
        return self._expansions.get(name)

    def find_objects(self, obj: Any) -> list[dict[str, Any]]:
        """The dicts in ``obj`` whose ``_type`` is this node's type, in document order.

        The search goes through dicts and lists but, as PySOA's did, not into a match: an object
        of this type inside another one is not returned.
        """
        return _find_typed(obj, self.type)

    def to_strings(self) -> list[str]:
        """The requested expansions as dotted strings, leaf paths only, as PySOA's trees gave them
        (``{'book': ['author', 'author.publisher']}`` gives ``['author.publisher']``)."""
        return [string for expansion in self._expansions.values() for string in expansion.to_strings()]

    def to_dict(self) -> dict[str, list[str]]:
        return {str(self.type): self.to_strings()}


class ExpansionNode(TypeNode):
    """One requested expansion: where its objects come from, and the expansions requested of them."""

    def __init__(
        self,
        node_type: str | None,
        name: str,
        source_field: str,
        destination_field: str,
        service: str,
        action: str,
        request_field: str,
        response_field: str,
        raise_action_errors: bool = False,
    ) -> None:
        super().__init__(node_type)
        if source_field == destination_field:
            raise ValueError(f"Expansion {name!r}: source_field and destination_field must differ")
        self.name = name
        self.source_field = source_field
        self.destination_field = destination_field
        self.service = service
        self.action = action
        self.request_field = request_field
        self.response_field = response_field
        self.raise_action_errors = raise_action_errors

    def to_strings(self) -> list[str]:
        children = super().to_strings()
        return [f"{self.name}.{string}" for string in children] if children else [self.name]


class ExpansionConverter:
    """Converts between ``{type: ['exp', 'exp.nested']}`` and expansion trees."""

    def __init__(
        self,
        type_routes: Mapping[str, Mapping[str, Any]],
        type_expansions: Mapping[str, Mapping[str, Mapping[str, Any]]],
    ) -> None:
        self.type_routes = type_routes
        self.type_expansions = type_expansions

    def dict_to_trees(self, expansion_dict: Mapping[str, Iterable[str]]) -> list[TypeNode]:
        """One :class:`TypeNode` per type; raises :class:`InvalidExpansionKey` for anything not configured,
        worded as PySOA's client did: ``Invalid key in expansion request: <the unknown key>``."""
        if not isinstance(expansion_dict, Mapping):
            raise InvalidExpansionKey(f"Expansions must be a dict of type to expansion names, not {expansion_dict!r}")
        trees = []
        for type_name, expansion_strings in expansion_dict.items():
            if isinstance(expansion_strings, str):
                raise InvalidExpansionKey(
                    f"The expansions of type {type_name!r} must be a list of names, not {expansion_strings!r}"
                )
            tree = TypeNode(type_name)
            for expansion_string in expansion_strings:
                node: TypeNode = tree
                for name in str(expansion_string).split("."):
                    child = node.get_expansion(name)
                    if child is None:
                        child = self._make_node(node.type, name)
                        node.add_expansion(child)
                    node = child
            trees.append(tree)
        return trees

    def _make_node(self, type_name: str | None, name: str) -> ExpansionNode:
        # The unknown key is the type when it has no expansions at all, else the expansion name.
        config = self.type_expansions.get(type_name) if type_name is not None else None
        if config is None:
            raise InvalidExpansionKey(f"Invalid key in expansion request: {type_name}")
        expansion = config.get(name)
        if expansion is None:
            raise InvalidExpansionKey(f"Invalid key in expansion request: {name}")
        route = self.type_routes.get(expansion["route"])
        if route is None:
            raise InvalidExpansionKey(f"Invalid key in expansion request: {expansion['route']}")
        return ExpansionNode(
            node_type=expansion.get("type"),
            name=name,
            source_field=expansion["source_field"],
            destination_field=expansion["destination_field"],
            service=route["service"],
            action=route["action"],
            request_field=route["request_field"],
            response_field=route["response_field"],
            raise_action_errors=bool(expansion.get("raise_action_errors", False)),
        )

    def trees_to_dict(self, trees_list: Iterable[TypeNode]) -> dict[str, list[str]]:
        result: dict[str, list[str]] = {}
        for tree in trees_list:
            for type_name, strings in tree.to_dict().items():
                result.setdefault(type_name, []).extend(s for s in strings if s not in result.get(type_name, ()))
        return result


def _find_typed(obj: Any, type_name: str | None) -> list[dict[str, Any]]:
    """The dicts in ``obj`` whose ``_type`` is ``type_name``, depth first in document order,
    searching through dicts, lists and tuples but not into a match (iterative: deep data must not
    hit the recursion limit; a dict reached twice is searched once)."""
    found: list[dict[str, Any]] = []
    stack = [obj]
    seen: set[int] = set()
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if id(item) in seen:
                continue
            seen.add(id(item))
            if item.get(TYPE_KEY) == type_name:
                found.append(item)
            else:
                stack.extend(reversed(list(item.values())))
        elif isinstance(item, list | tuple):
            stack.extend(reversed(item))
    return found


# --- running expansions ----------------------------------------------------------------------------------------

# (service, action, request_field, response_field): one request per route per round.
_RouteKey = tuple[str, str, str, str]
# What an object has already been fetched for, along the chain of expansions that led to it.
_Ancestry = frozenset[tuple[_RouteKey, Any]]


class _Target:
    """An object waiting for one expansion."""

    __slots__ = ("ancestry", "node", "obj", "value")

    def __init__(self, obj: dict[str, Any], node: ExpansionNode, value: Any, ancestry: _Ancestry) -> None:
        self.obj = obj
        self.node = node
        self.value = value
        self.ancestry = ancestry


def _route(node: ExpansionNode) -> _RouteKey:
    return (node.service, node.action, node.request_field, node.response_field)


def perform_expansions(
    client: JobsCaller,
    converter: ExpansionConverter,
    action_responses: Iterable[ActionResponse],
    expansions: Mapping[str, Iterable[str]],
    *,
    timeout: float | None,
    switches: Iterable[Any] | None,
    correlation_id: str | None,
    context: Mapping[str, Any] | None,
    control_extra: Mapping[str, Any] | None,
) -> None:
    """Expand the objects in the bodies of ``action_responses`` in place (see the module docs).

    The expansion calls carry the parent call's ``timeout``, ``switches``, ``correlation_id``,
    ``context`` and ``control_extra``.
    """
    switches = list(switches) if switches is not None else None
    rounds = expansion_rounds(converter, action_responses, expansions)
    jobs = next(rounds, None)
    while jobs is not None:
        responses: list[JobResponse] = client.call_jobs_parallel(
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
            jobs = rounds.send(responses)
        except StopIteration:
            break


def expansion_rounds(
    converter: ExpansionConverter,
    action_responses: Iterable[ActionResponse],
    expansions: Mapping[str, Iterable[str]],
) -> Generator[list[dict[str, Any]], list[JobResponse], None]:
    """The expansion algorithm without I/O, for the sync and the async client alike.

    Yields the jobs of one round (to be called in parallel, with job and action errors returned
    rather than raised) and expects their responses, in order, sent back; when nothing is left to
    fetch it expands ``action_responses`` in place and returns, or raises the first error of a
    route that raises.
    """
    trees = {tree.type: tree for tree in converter.dict_to_trees(expansions)}
    if not trees:
        return
    fetched: dict[tuple[_RouteKey, Any], Any] = {}
    targets: list[_Target] = []
    seen: set[tuple[int, str]] = set()

    def collect(obj: Any, nodes: Iterable[ExpansionNode], ancestry: _Ancestry) -> None:
        for node in nodes:
            if node.destination_field in obj:
                continue
            value = obj.get(node.source_field)
            if not value or not isinstance(value, Hashable):
                continue  # nothing to expand (an unhashable value cannot be a key of the response either)
            if (_route(node), value) in ancestry:
                continue  # obj was itself fetched (somewhere up the chain) for this very object
            mark = (id(obj), node.name)
            if mark not in seen:
                seen.add(mark)
                targets.append(_Target(obj, node, value, ancestry))

    def scan(obj: Any, ancestry: _Ancestry) -> None:
        for tree in trees.values():
            for found in tree.find_objects(obj):
                collect(found, tree.expansions, ancestry)

    for response in action_responses:
        scan(response.body, frozenset())

    while targets:
        round_targets, targets = targets, []
        seen.clear()
        to_fetch: dict[_RouteKey, dict[Any, None]] = {}  # dicts as ordered sets of ids
        for target in round_targets:
            route = _route(target.node)
            if (route, target.value) not in fetched:
                to_fetch.setdefault(route, {})[target.value] = None
        failures: list[Exception] = []
        if to_fetch:
            routes = list(to_fetch)
            responses = yield _jobs_for(routes, to_fetch)
            failures = _absorb(
                routes,
                responses,
                to_fetch,
                fetched,
                raising={_route(t.node) for t in round_targets if t.node.raise_action_errors},
            )
        for target in round_targets:
            key = (_route(target.node), target.value)
            if key not in fetched:
                continue
            # A copy per destination: objects reached along different paths are expanded separately.
            value = copy.deepcopy(fetched[key])
            target.obj[target.node.destination_field] = value
            ancestry = target.ancestry | {key}
            if target.node.expansions:  # the value may be one object or a list of them
                for found in target.node.find_objects(value):
                    collect(found, target.node.expansions, ancestry)
            scan(value, ancestry)
        if failures:
            raise failures[0]


def _jobs_for(routes: list[_RouteKey], to_fetch: Mapping[_RouteKey, Mapping[Any, None]]) -> list[dict[str, Any]]:
    """One job per route, fetching all of that route's ids at once."""
    jobs = []
    for route in routes:
        service, action, request_field, _response_field = route
        jobs.append(
            {"service_name": service, "actions": [{"action": action, "body": {request_field: list(to_fetch[route])}}]}
        )
    return jobs


def _absorb(
    routes: list[_RouteKey],
    responses: list[JobResponse],
    to_fetch: Mapping[_RouteKey, Mapping[Any, None]],
    fetched: dict[tuple[_RouteKey, Any], Any],
    *,
    raising: set[_RouteKey],
) -> list[Exception]:
    """Put every route's fetched objects into ``fetched``; returns the errors of routes that raise."""
    failures: list[Exception] = []
    for route, response in zip(routes, responses, strict=True):
        if response.errors:
            if route in raising:
                failures.append(CallJobError(response.errors))
            continue
        action_response = response.actions[0] if response.actions else None
        if action_response is None or action_response.errors:
            if route in raising and action_response is not None:
                failures.append(CallActionError([action_response]))
            continue
        objects = action_response.body.get(route[3])
        if not isinstance(objects, Mapping):
            continue
        for object_id in to_fetch[route]:
            if object_id in objects:
                fetched[(route, object_id)] = objects[object_id]
            elif str(object_id) in objects:
                # Serializers such as JSON turn integer keys into strings.
                fetched[(route, object_id)] = objects[str(object_id)]
    return failures


# PySOA's names for the shapes above, for type hints.
Expansions: TypeAlias = dict[str, list[str]]
"""Requested expansions: ``{object type: [expansion name, ...]}``."""
TypeRoutes: TypeAlias = dict[str, dict[str, str]]
"""The ``type_routes`` setting: ``{route name: {"service": ..., "action": ..., "request_field": ..., ...}}``."""
TypeExpansions: TypeAlias = dict[str, dict[str, dict[str, str | bool]]]
"""The ``type_expansions`` setting: ``{object type: {expansion name: {"type": ..., "route": ..., ...}}}``."""
