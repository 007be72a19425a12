"""Client expansions (``Client(expansion_config=...)``, ``call_*(expansions=...)``) over the local transport.

Two services: ``library`` serves books (objects with ``_type: 'book'`` and an ``author_id``),
``people`` serves authors (``_type: 'author'``, with a ``publisher_id``) and publishers. Every
request the services receive is recorded, so the tests can check batching and that nothing is
sent when it should not be.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from pysoa.client import Client
from pysoa.client.expander import ExpansionConverter, ExpansionNode, ExpansionSettings, TypeNode
from pysoa.common.settings import SettingsError
from pysoa.common.types import ActionResponse, Error
from pysoa.errors import ActionError, CallActionError, CallJobError, InvalidExpansionKey, JobError
from pysoa.server import Server
from pysoa.test.stub_service import stub_action

RECEIVED: list[tuple[str, str, dict[str, Any]]] = []
SWITCHES_RECEIVED: list[list[int]] = []

BOOKS = {
    1: {"_type": "book", "id": 1, "title": "Emma", "author_id": 10},
    2: {"_type": "book", "id": 2, "title": "Persuasion", "author_id": 10},
    3: {"_type": "book", "id": 3, "title": "Middlemarch", "author_id": 11},
    4: {"_type": "book", "id": 4, "title": "Anonymous", "author_id": None},
}
AUTHORS = {
    # Austen's best book is her own: re-scanning it must not loop.
    10: {
        "_type": "author",
        "id": 10,
        "name": "Austen",
        "publisher_id": 100,
        "best": {"_type": "book", "author_id": 10},
    },
    # This author's best book is by someone else: the re-scan expands it.
    11: {"_type": "author", "id": 11, "name": "Eliot", "publisher_id": 101, "best": {"_type": "book", "author_id": 10}},
}
PUBLISHERS = {100: {"_type": "publisher", "name": "Murray"}, 101: {"_type": "publisher", "name": "Blackwood"}}


def _record(request: Any) -> None:
    RECEIVED.append((request._server.service_name, request.action, dict(request.body)))
    SWITCHES_RECEIVED.append(sorted(request.switches))


def get_books(request: Any) -> dict[str, Any]:
    _record(request)
    return {"books": [dict(BOOKS[i]) for i in request.body["ids"]]}


def get_books_by_ids(request: Any) -> dict[str, Any]:
    _record(request)
    return {"books": {i: dict(BOOKS[i]) for i in request.body["ids"] if i in BOOKS}}


def get_loans(request: Any) -> dict[str, Any]:
    return dict(request.body)


def get_authors(request: Any) -> dict[str, Any]:
    _record(request)
    if request.body.get("ids") == [666]:
        raise ActionError([Error(code="NOT_FOUND", message="No such author", field="ids")])
    if request.body.get("ids") == [999]:
        raise JobError([Error(code="ACCESS_DENIED", message="Not for you")])
    return {"authors": {i: AUTHORS[i] for i in request.body["ids"] if i in AUTHORS}}


def get_publishers(request: Any) -> dict[str, Any]:
    _record(request)
    return {"publishers": {i: PUBLISHERS[i] for i in request.body["ids"] if i in PUBLISHERS}}


class LibraryServer(Server):
    service_name = "library"
    action_class_map = {"get_books": get_books, "get_books_by_ids": get_books_by_ids, "get_loans": get_loans}


class PeopleServer(Server):
    service_name = "people"
    action_class_map = {"get_authors": get_authors, "get_publishers": get_publishers}


def _route(service: str, action: str, field: str) -> dict[str, str]:
    return {"service": service, "action": action, "request_field": "ids", "response_field": field}


EXPANSION_CONFIG: dict[str, Any] = {
    "type_routes": {
        "author_route": _route("people", "get_authors", "authors"),
        "publisher_route": _route("people", "get_publishers", "publishers"),
        "book_route": _route("library", "get_books_by_ids", "books"),
    },
    "type_expansions": {
        "book": {
            "author": {
                "type": "author",
                "route": "author_route",
                "source_field": "author_id",
                "destination_field": "author",
            },
        },
        "author": {
            "publisher": {
                "type": "publisher",
                "route": "publisher_route",
                "source_field": "publisher_id",
                "destination_field": "publisher",
            },
            "strict_publisher": {
                "type": "publisher",
                "route": "publisher_route",
                "source_field": "publisher_id",
                "destination_field": "strict_publisher",
                "raise_action_errors": True,
            },
        },
        "loan": {
            "book": {"type": "book", "route": "book_route", "source_field": "book_id", "destination_field": "book"},
            "strict_author": {
                "type": None,
                "route": "author_route",
                "source_field": "author_id",
                "destination_field": "author",
                "raise_action_errors": True,
            },
            "lenient_author": {
                "type": None,
                "route": "author_route",
                "source_field": "author_id",
                "destination_field": "author",
            },
        },
    },
}


def _local(server_class: type[Server]) -> dict[str, Any]:
    return {"transport": {"name": "local", "kwargs": {"server_class": server_class}}}


@pytest.fixture
def client() -> Iterator[Client]:
    RECEIVED.clear()
    SWITCHES_RECEIVED.clear()
    yield Client(
        {"library": _local(LibraryServer), "people": _local(PeopleServer)},
        expansion_config=EXPANSION_CONFIG,
    )
    RECEIVED.clear()


def _people_requests() -> list[tuple[str, dict[str, Any]]]:
    return [(action, body) for service, action, body in RECEIVED if service == "people"]


def test_expands_objects_with_one_batched_request_per_route(client: Client) -> None:
    response = client.call_action("library", "get_books", {"ids": [1, 2, 3]}, expansions={"book": ["author"]})

    books = response.body["books"]
    assert [book["author"]["name"] for book in books] == ["Austen", "Austen", "Eliot"]
    # One request for both authors, each id once, in the order first met.
    assert _people_requests()[0] == ("get_authors", {"ids": [10, 11]})


@pytest.mark.parametrize("future", [False, True])
def test_switches_given_as_a_generator_reach_the_expansion_requests_too(client: Client, future: bool) -> None:
    args: tuple[Any, ...] = ("library", "get_books", {"ids": [3]})
    options: dict[str, Any] = {"expansions": {"book": ["author"]}, "switches": iter([4, 2])}
    if future:
        body = client.call_action_future(*args, **options).result().body
    else:
        body = client.call_action(*args, **options).body
    assert body["books"][0]["author"]["name"] == "Eliot"
    # The book request, then the expansion's author requests (Eliot's, then her best book's author's).
    assert SWITCHES_RECEIVED == [[2, 4]] * 3


def test_objects_without_a_source_value_or_already_expanded_are_left_alone(client: Client) -> None:
    response = client.call_action("library", "get_books", {"ids": [4]}, expansions={"book": ["author"]})

    assert "author" not in response.body["books"][0]
    assert _people_requests() == []


def test_nested_expansions_expand_the_fetched_objects(client: Client) -> None:
    response = client.call_action(
        "library", "get_books", {"ids": [1, 3]}, expansions={"book": ["author", "author.publisher"]}
    )

    books = response.body["books"]
    assert books[0]["author"]["publisher"] == {"_type": "publisher", "name": "Murray"}
    assert books[1]["author"]["publisher"] == {"_type": "publisher", "name": "Blackwood"}
    assert [action for action, _ in _people_requests()] == ["get_authors", "get_publishers"]
    assert _people_requests()[1] == ("get_publishers", {"ids": [100, 101]})


def test_fetched_objects_are_rescanned_without_looping_on_themselves(client: Client) -> None:
    response = client.call_action("library", "get_books", {"ids": [1, 3]}, expansions={"book": ["author"]})

    austen = response.body["books"][0]["author"]
    eliot = response.body["books"][1]["author"]
    # Austen's best book is by Austen: expanding it would never end, so it is left alone.
    assert "author" not in austen["best"]
    # Eliot's best book is by Austen: the re-scan expands it, from what was already fetched.
    assert eliot["best"]["author"]["name"] == "Austen"
    assert "author" not in eliot["best"]["author"]["best"]
    assert _people_requests() == [("get_authors", {"ids": [10, 11]})]


def test_each_destination_gets_its_own_copy(client: Client) -> None:
    response = client.call_action("library", "get_books", {"ids": [1, 2]}, expansions={"book": ["author"]})

    first, second = (book["author"] for book in response.body["books"])
    assert first == second
    assert first is not second


def test_expansions_apply_to_every_response_of_call_actions_and_parallel_calls(client: Client) -> None:
    job = client.call_actions(
        "library",
        [{"action": "get_books", "body": {"ids": [1]}}, {"action": "get_books", "body": {"ids": [3]}}],
        expansions={"book": ["author"]},
    )
    assert [a.body["books"][0]["author"]["name"] for a in job.actions] == ["Austen", "Eliot"]

    parallel = list(
        client.call_actions_parallel(
            "library",
            [{"action": "get_books", "body": {"ids": [2]}}, {"action": "get_books", "body": {"ids": [3]}}],
            expansions={"book": ["author"]},
        )
    )
    assert [a.body["books"][0]["author"]["name"] for a in parallel] == ["Austen", "Eliot"]

    jobs = client.call_jobs_parallel(
        [{"service_name": "library", "actions": [{"action": "get_books", "body": {"ids": [1]}}]}],
        expansions={"book": ["author"]},
    )
    assert jobs[0].actions[0].body["books"][0]["author"]["name"] == "Austen"


def test_expansion_requests_carry_the_calls_context_and_switches(client: Client) -> None:
    seen: list[Any] = []

    def spy(request: Any) -> dict[str, Any]:
        seen.append((sorted(request.switches), request.context.get("correlation_id"), request.context.get("user")))
        return get_authors(request)

    original = PeopleServer.action_class_map
    PeopleServer.action_class_map = {**original, "get_authors": spy}
    try:
        client.call_action(
            "library",
            "get_books",
            {"ids": [1]},
            expansions={"book": ["author"]},
            switches=[5],
            correlation_id="corr-1",
            context={"user": "ann"},
        )
    finally:
        PeopleServer.action_class_map = original
    assert seen == [([5], "corr-1", "ann")]


def test_an_unknown_expansion_raises_before_anything_is_sent(client: Client) -> None:
    with pytest.raises(InvalidExpansionKey, match="nope"):
        client.call_action("library", "get_books", {"ids": [1]}, expansions={"book": ["nope"]})
    with pytest.raises(InvalidExpansionKey, match="magazine"):
        client.call_jobs_parallel(
            [{"service_name": "library", "actions": [{"action": "get_books", "body": {"ids": [1]}}]}],
            expansions={"magazine": ["author"]},
        )
    with pytest.raises(InvalidExpansionKey):
        client.call_action("library", "get_books", {"ids": [1]}, expansions={"book": ["author.nope"]})
    assert RECEIVED == []


def _loans(client: Client, loans: list[dict[str, Any]], expansions: list[str]) -> list[dict[str, Any]]:
    response = client.call_action("library", "get_loans", {"loans": loans}, expansions={"loan": expansions})
    result: list[dict[str, Any]] = response.body["loans"]
    return result


def test_a_failed_expansion_is_left_out_unless_it_raises(client: Client) -> None:
    assert _loans(client, [{"_type": "loan", "author_id": 666}], ["lenient_author"]) == [
        {"_type": "loan", "author_id": 666}
    ]
    with pytest.raises(CallActionError) as exc_info:
        _loans(client, [{"_type": "loan", "author_id": 666}], ["strict_author"])
    assert exc_info.value.actions[0].errors[0].code == "NOT_FOUND"

    assert _loans(client, [{"_type": "loan", "author_id": 999}], ["lenient_author"]) == [
        {"_type": "loan", "author_id": 999}
    ]
    with pytest.raises(CallJobError) as job_exc_info:
        _loans(client, [{"_type": "loan", "author_id": 999}], ["strict_author"])
    assert job_exc_info.value.errors[0].code == "ACCESS_DENIED"


def test_a_raising_expansion_still_fills_the_rest_of_its_round(client: Client) -> None:
    response = ActionResponse("get_loans", body={"loans": [{"_type": "loan", "author_id": 666, "book_id": 1}]})

    with pytest.raises(CallActionError):
        client._expand([response], {"loan": ["strict_author", "book"]}, None, None, None, None, None)
    assert response.body["loans"][0]["book"]["title"] == "Emma"


def test_nested_expansions_of_a_fetched_object_found_through_another_route(client: Client) -> None:
    loans = _loans(client, [{"_type": "loan", "book_id": 3}], ["book", "book.author", "book.author.publisher"])

    assert loans[0]["book"]["author"]["publisher"]["name"] == "Blackwood"


def test_integer_ids_that_came_back_as_strings_still_match(client: Client) -> None:
    def stringly(request: Any) -> dict[str, Any]:
        _record(request)
        return {"authors": {str(i): AUTHORS[i] for i in request.body["ids"]}}

    original = PeopleServer.action_class_map
    PeopleServer.action_class_map = {**original, "get_authors": stringly}
    try:
        response = client.call_action("library", "get_books", {"ids": [3]}, expansions={"book": ["author"]})
    finally:
        PeopleServer.action_class_map = original
    assert response.body["books"][0]["author"]["name"] == "Eliot"


def test_expansions_are_ignored_by_a_client_without_expansion_config() -> None:
    RECEIVED.clear()
    plain = Client({"library": _local(LibraryServer), "people": _local(PeopleServer)})
    response = plain.call_action("library", "get_books", {"ids": [1]}, expansions={"book": ["author"]})
    assert "author" not in response.body["books"][0]
    assert _people_requests() == []


# --- the converter and settings ----------------------------------------------------------------------------------


def _converter() -> ExpansionConverter:
    settings = ExpansionSettings(EXPANSION_CONFIG)
    return ExpansionConverter(settings["type_routes"], settings["type_expansions"])


def test_dict_to_trees_builds_nodes_from_the_configuration() -> None:
    trees = _converter().dict_to_trees({"book": ["author.publisher", "author"]})

    assert len(trees) == 1
    book = trees[0]
    assert isinstance(book, TypeNode)
    assert book.type == "book"
    author = book.get_expansion("author")
    assert isinstance(author, ExpansionNode)
    assert (author.type, author.service, author.action, author.request_field, author.response_field) == (
        "author",
        "people",
        "get_authors",
        "ids",
        "authors",
    )
    assert (author.source_field, author.destination_field, author.raise_action_errors) == (
        "author_id",
        "author",
        False,
    )
    assert [child.name for child in author.expansions] == ["publisher"]


def test_the_tree_helpers_give_leaf_paths_only_as_pysoa_did() -> None:
    converter = _converter()
    trees = converter.dict_to_trees(
        {"book": ["author", "author.publisher", "author.strict_publisher"], "loan": ["book", "lenient_author"]}
    )
    book, loan = trees

    assert converter.trees_to_dict(trees) == {
        "book": ["author.publisher", "author.strict_publisher"],
        "loan": ["book", "lenient_author"],
    }
    assert book.to_dict() == {"book": ["author.publisher", "author.strict_publisher"]}
    author = book.get_expansion("author")
    assert author is not None
    assert author.to_strings() == ["author.publisher", "author.strict_publisher"]
    assert loan.to_strings() == ["book", "lenient_author"]
    # Leaf paths still name every expansion: converting back gives the same trees.
    assert converter.trees_to_dict(converter.dict_to_trees(converter.trees_to_dict(trees))) == converter.trees_to_dict(
        trees
    )


def test_find_objects_does_not_search_inside_a_match() -> None:
    node = TypeNode("book")
    body = {
        "a": [{"_type": "book", "id": 1, "more": {"_type": "book", "id": 2}}, {"_type": "book", "id": 3}],
        "b": {"_type": "author", "best": {"_type": "book", "id": 4}},
    }

    assert [found["id"] for found in node.find_objects(body)] == [1, 3, 4]


@pytest.mark.parametrize(
    ("expansions", "message"),
    [
        # PySOA's wording, naming the key that is not configured: the expansion, or a type that has none.
        ({"book": ["nope"]}, "^Invalid key in expansion request: nope$"),
        ({"magazine": ["author"]}, "^Invalid key in expansion request: magazine$"),
        ({"book": ["author.publisher.owner"]}, "^Invalid key in expansion request: publisher$"),
        ({"loan": ["strict_author.publisher"]}, "^Invalid key in expansion request: None$"),  # type None
        ({"book": "author"}, "list of names"),
    ],
)
def test_invalid_expansion_requests(expansions: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidExpansionKey, match=message):
        _converter().dict_to_trees(expansions)


def test_settings_reject_a_dangling_route_and_same_source_and_destination() -> None:
    with pytest.raises(SettingsError, match="no type_routes entry named 'missing'"):
        ExpansionSettings(
            {
                "type_routes": {},
                "type_expansions": {
                    "book": {"x": {"type": None, "route": "missing", "source_field": "a", "destination_field": "b"}}
                },
            }
        )
    with pytest.raises(ValueError, match="must differ"):
        Client(
            {},
            expansion_config={
                "type_routes": {"r": _route("people", "get_authors", "authors")},
                "type_expansions": {
                    "book": {"x": {"type": None, "route": "r", "source_field": "a", "destination_field": "a"}}
                },
            },
        )
    with pytest.raises(ValueError, match="must differ"):
        ExpansionNode(None, "x", "a", "a", "s", "act", "ids", "things")


def test_settings_validate_the_shape() -> None:
    with pytest.raises(SettingsError, match="type_routes"):
        ExpansionSettings({"type_routes": {"r": {"service": "people"}}})


def test_expansion_requests_can_be_stubbed(client: Client) -> None:
    with stub_action("people", "get_authors", body={"authors": {10: {"_type": "author", "name": "Stubbed"}}}) as stub:
        response = client.call_action("library", "get_books", {"ids": [1]}, expansions={"book": ["author"]})
    assert response.body["books"][0]["author"] == {"_type": "author", "name": "Stubbed"}
    assert stub.call_body == {"ids": [10]}
    assert _people_requests() == []


# --- lists of objects and objects nested in matches --------------------------------------------------------------

EMPLOYEES = {
    1: {"_type": "employee", "id": 1, "name": "Ada", "photo_id": "p1"},
    2: {"_type": "employee", "id": 2, "name": "Bo", "photo_id": "p2"},
    3: {"_type": "employee", "id": 3, "name": "Cy", "photo_id": "p3"},
}
REPORTS = {1: [2, 3]}


def get_companies(request: Any) -> dict[str, Any]:
    _record(request)
    # The parent company sits inside the company: it is not expanded unless asked.
    parent = {"_type": "company", "id": "c0", "ceo_id": 2}
    return {"companies": [{"_type": "company", "id": "c1", "ceo_id": 1, "parent": parent}]}


def get_employees(request: Any) -> dict[str, Any]:
    _record(request)
    return {"employees": {i: dict(EMPLOYEES[i]) for i in request.body["ids"]}}


def get_reports(request: Any) -> dict[str, Any]:
    _record(request)
    # Each id maps to a list of objects.
    return {"reports": {i: [dict(EMPLOYEES[r]) for r in REPORTS.get(i, [])] for i in request.body["ids"]}}


def get_photos(request: Any) -> dict[str, Any]:
    _record(request)
    return {"photos": {i: {"_type": "photo", "url": f"{i}.jpg"} for i in request.body["ids"]}}


class StaffServer(Server):
    service_name = "staff"
    action_class_map = {
        "get_companies": get_companies,
        "get_employees": get_employees,
        "get_reports": get_reports,
        "get_photos": get_photos,
    }


STAFF_EXPANSIONS: dict[str, Any] = {
    "type_routes": {
        "employees": _route("staff", "get_employees", "employees"),
        "reports": _route("staff", "get_reports", "reports"),
        "photos": _route("staff", "get_photos", "photos"),
    },
    "type_expansions": {
        "company": {
            "ceo": {"type": "employee", "route": "employees", "source_field": "ceo_id", "destination_field": "ceo"},
        },
        "employee": {
            "reports": {"type": "employee", "route": "reports", "source_field": "id", "destination_field": "reports"},
            "photo": {"type": "photo", "route": "photos", "source_field": "photo_id", "destination_field": "photo"},
        },
    },
}


@pytest.fixture
def staff_client() -> Iterator[Client]:
    RECEIVED.clear()
    yield Client({"staff": _local(StaffServer)}, expansion_config=STAFF_EXPANSIONS)
    RECEIVED.clear()


def test_a_list_of_objects_is_expanded_each_and_into_nested_expansions(staff_client: Client) -> None:
    response = staff_client.call_action(
        "staff", "get_companies", expansions={"company": ["ceo", "ceo.reports", "ceo.reports.photo"]}
    )

    ceo = response.body["companies"][0]["ceo"]
    assert ceo["name"] == "Ada"
    assert [(report["name"], report["photo"]["url"]) for report in ceo["reports"]] == [
        ("Bo", "p2.jpg"),
        ("Cy", "p3.jpg"),
    ]
    assert "photo" not in ceo  # not asked for the CEO
    assert [(action, body) for _, action, body in RECEIVED] == [
        ("get_companies", {}),
        ("get_employees", {"ids": [1]}),
        ("get_reports", {"ids": [1]}),
        ("get_photos", {"ids": ["p2", "p3"]}),
    ]


def test_an_object_of_the_expanded_type_inside_a_match_is_not_expanded(staff_client: Client) -> None:
    response = staff_client.call_action("staff", "get_companies", expansions={"company": ["ceo"]})

    company = response.body["companies"][0]
    assert company["ceo"]["name"] == "Ada"
    assert company["parent"] == {"_type": "company", "id": "c0", "ceo_id": 2}
    assert [body for _, action, body in RECEIVED if action == "get_employees"] == [{"ids": [1]}]
