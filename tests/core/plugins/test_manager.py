"""The plugin manager: registration through hooks, lookups by name, and refusing bad plugins."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest

import pysoa
from pysoa.common.serializer.msgpack_serializer import MsgpackSerializer
from pysoa.errors import DuplicatePluginError, PluginError, UnknownPluginError
from pysoa.plugins import (
    BLOCK_ENV_VAR,
    KINDS,
    PluginInfo,
    PluginManager,
    PluginPair,
    builtin,
    get_plugin_manager,
    hookimpl,
    set_plugin_manager,
)
from pysoa.plugins.manager import BUILTIN_PLUGIN_NAME

from .fakes import (
    FakeClientMiddleware,
    FakeClientTransport,
    FakeSerializer,
    FakeServerMiddleware,
    FakeServerTransport,
    fake_plugin,
    make_plugin,
    no_classes,
)


def _named(name: str, base: type, **attributes: object) -> type:
    return type(f"Other{base.__name__}", (base,), {"name": name, **attributes})


class TestBuiltins:
    def test_without_autoload_only_the_builtin_msgpack_serializer_is_there(self, manager: PluginManager) -> None:
        assert manager.describe() == [
            PluginInfo("serializer", "msgpack", MsgpackSerializer, BUILTIN_PLUGIN_NAME, "soa-core", pysoa.__version__)
        ]
        assert manager.serializer("msgpack") is MsgpackSerializer
        assert manager.serializer_for_mime_type("application/msgpack") is MsgpackSerializer

    def test_msgpack_registers_through_the_ordinary_serializer_hook(self) -> None:
        # It is a marked implementation of the public hook, and blocking its plugin name removes it:
        # there is no side door.
        assert hasattr(builtin.pysoa_register_serializers, "pysoa_impl")
        manager = PluginManager(autoload=False, blocked=[BUILTIN_PLUGIN_NAME])
        assert manager.names("serializer") == []
        with pytest.raises(UnknownPluginError, match="no serializer is installed"):
            manager.serializer("msgpack")


class TestRegistration:
    def test_every_hook_registers_its_classes_by_kind(self, manager: PluginManager) -> None:
        manager.register(fake_plugin(), name="fakes")

        assert manager.client_transport("fake") is FakeClientTransport
        assert manager.server_transport("fake") is FakeServerTransport
        assert manager.serializer("fake") is FakeSerializer
        assert manager.serializer_for_mime_type("application/x-fake") is FakeSerializer
        assert manager.client_middleware("fake-mw") is FakeClientMiddleware
        assert manager.server_middleware("fake-mw") is FakeServerMiddleware
        assert manager.get("client transport", "fake") is FakeClientTransport
        assert manager.names("serializer") == ["fake", "msgpack"]

    def test_accessors_pair_the_client_and_server_sides(self, manager: PluginManager) -> None:
        client_only = _named("client-only", FakeClientTransport)
        manager.register(fake_plugin(), name="fakes")
        manager.register(make_plugin(pysoa_register_transports=lambda: [client_only]), name="more")

        transports = manager.transports()
        assert list(transports) == ["client-only", "fake"]
        assert transports["client-only"].server is None
        assert transports["client-only"].client is not None
        assert transports["client-only"].client.cls is client_only
        fake = transports["fake"]
        assert isinstance(fake, PluginPair)
        assert (fake.client and fake.client.cls, fake.server and fake.server.cls) == (
            FakeClientTransport,
            FakeServerTransport,
        )
        middleware = manager.middleware()["fake-mw"]
        assert middleware.client is not None
        assert middleware.client.cls is FakeClientMiddleware
        assert middleware.server is not None
        assert middleware.server.cls is FakeServerMiddleware
        assert list(manager.serializers()) == ["fake", "msgpack"]

    def test_describe_lists_every_class_by_kind_then_name_with_its_plugin(self, manager: PluginManager) -> None:
        manager.register(fake_plugin(), name="fakes")
        rows = [(info.kind, info.name, info.class_path, info.plugin, info.distribution) for info in manager.describe()]
        assert rows == [
            ("client transport", "fake", "tests.core.plugins.fakes:FakeClientTransport", "fakes", None),
            ("server transport", "fake", "tests.core.plugins.fakes:FakeServerTransport", "fakes", None),
            ("serializer", "fake", "tests.core.plugins.fakes:FakeSerializer", "fakes", None),
            (
                "serializer",
                "msgpack",
                "pysoa.common.serializer.msgpack_serializer:MsgpackSerializer",
                BUILTIN_PLUGIN_NAME,
                "soa-core",
            ),
            ("client middleware", "fake-mw", "tests.core.plugins.fakes:FakeClientMiddleware", "fakes", None),
            ("server middleware", "fake-mw", "tests.core.plugins.fakes:FakeServerMiddleware", "fakes", None),
        ]
        assert manager.describe()[0].as_dict() == {
            "kind": "client transport",
            "name": "fake",
            "class": "tests.core.plugins.fakes:FakeClientTransport",
            "plugin": "fakes",
            "distribution": None,
            "version": None,
        }

    def test_hooks_run_on_the_first_lookup_only(self, manager: PluginManager) -> None:
        calls: list[str] = []

        def register() -> list[type]:
            calls.append("called")
            return [FakeSerializer]

        manager.register(make_plugin(pysoa_register_serializers=register), name="counted")
        assert calls == []
        manager.serializer("fake")
        manager.names("serializer")
        manager.describe()
        assert calls == ["called"]

    def test_a_plugin_registered_after_a_lookup_is_seen_by_the_next_one(self, manager: PluginManager) -> None:
        assert manager.names("client transport") == []
        manager.register(fake_plugin(), name="fakes")
        assert manager.names("client transport") == ["fake"]

    def test_the_same_class_from_two_plugins_is_not_a_conflict(self, manager: PluginManager) -> None:
        manager.register(make_plugin(pysoa_register_serializers=lambda: [FakeSerializer]), name="one")
        manager.register(make_plugin(pysoa_register_serializers=lambda: (FakeSerializer,)), name="two")
        assert manager.serializer("fake") is FakeSerializer

    def test_a_hook_may_return_none_or_nothing(self, manager: PluginManager) -> None:
        manager.register(make_plugin(pysoa_register_middleware=lambda: None), name="none")
        manager.register(make_plugin(pysoa_register_transports=no_classes), name="empty")
        assert manager.transports() == {}
        assert manager.middleware() == {}

    def test_an_unmarked_hook_function_is_still_a_hook_implementation(self, manager: PluginManager) -> None:
        manager.register(SimpleNamespace(pysoa_register_serializers=lambda: [FakeSerializer]), name="unmarked")
        assert manager.serializer("fake") is FakeSerializer


class TestUnknownNames:
    def test_an_unknown_name_lists_the_installed_ones_and_suggests_the_closest(self, manager: PluginManager) -> None:
        manager.register(fake_plugin(), name="fakes")
        with pytest.raises(UnknownPluginError) as caught:
            manager.serializer("msgpak")
        assert str(caught.value) == (
            "No serializer plugin named 'msgpak' is installed; installed: fake, msgpack. Did you mean 'msgpack'?"
        )

    def test_without_a_close_match_there_is_no_suggestion(self, manager: PluginManager) -> None:
        with pytest.raises(UnknownPluginError) as caught:
            manager.serializer("yaml")
        assert str(caught.value) == "No serializer plugin named 'yaml' is installed; installed: msgpack"

    def test_a_first_party_plugin_name_says_which_distribution_to_install(self, manager: PluginManager) -> None:
        with pytest.raises(UnknownPluginError, match=r"no client transport is installed\. .*pip install soa-redis"):
            manager.client_transport("redis")

    def test_a_name_of_another_kind_says_what_it_is(self, manager: PluginManager) -> None:
        with pytest.raises(UnknownPluginError, match=r"\('msgpack' is a serializer\)"):
            manager.client_transport("msgpack")

    def test_a_blocked_name_says_it_is_blocked(self) -> None:
        manager = PluginManager(autoload=False, blocked=["local"])
        with pytest.raises(UnknownPluginError, match=f"It is blocked by {BLOCK_ENV_VAR}"):
            manager.server_transport("local")

    def test_an_unknown_kind_is_a_programming_error(self, manager: PluginManager) -> None:
        with pytest.raises(ValueError, match="Unknown plugin kind 'transport'; kinds: client transport, server"):
            manager.get("transport", "fake")
        with pytest.raises(ValueError, match="Unknown plugin kind"):
            manager.names("middlewares")

    def test_an_unknown_mime_type_has_no_serializer(self, manager: PluginManager) -> None:
        assert manager.serializer_for_mime_type("text/yaml") is None

    def test_every_kind_has_a_lookup(self, manager: PluginManager) -> None:
        for kind in KINDS:
            with pytest.raises(UnknownPluginError, match=f"No {kind} plugin named 'nope'"):
                manager.get(kind, "nope")


class TestBadPlugins:
    def test_two_classes_claiming_one_name_are_refused_naming_both(self, manager: PluginManager) -> None:
        impostor = _named("fake", FakeClientTransport)
        manager.register(fake_plugin(), name="fakes")
        manager.register(make_plugin(pysoa_register_transports=lambda: [impostor]), name="impostor")
        with pytest.raises(DuplicatePluginError) as caught:
            manager.client_transport("fake")
        message = str(caught.value)
        assert "Two client transport classes claim the name 'fake'" in message
        assert "tests.core.plugins.fakes:FakeClientTransport (from plugin 'fakes')" in message
        assert f"{impostor.__module__}:{impostor.__qualname__} (from plugin 'impostor')" in message

    def test_two_serializers_claiming_one_mime_type_are_refused_naming_both(self, manager: PluginManager) -> None:
        impostor = _named("other", FakeSerializer)
        manager.register(make_plugin(pysoa_register_serializers=lambda: [FakeSerializer, impostor]), name="mimes")
        with pytest.raises(DuplicatePluginError, match="claim the MIME type 'application/x-fake'") as caught:
            manager.names("serializer")
        assert "FakeSerializer" in str(caught.value)
        assert impostor.__qualname__ in str(caught.value)

    def test_a_misspelled_hook_fails_at_the_first_lookup(self, manager: PluginManager) -> None:
        manager.register(make_plugin(pysoa_register_transport=lambda: [FakeClientTransport]), name="typo")
        with pytest.raises(PluginError) as caught:
            manager.serializer("msgpack")
        assert str(caught.value) == (
            "Unknown hook, misspelled? plugin 'typo' implements 'pysoa_register_transport' "
            "(did you mean 'pysoa_register_transports'?). "
            "Known hooks: pysoa_register_middleware, pysoa_register_serializers, pysoa_register_transports"
        )

    def test_a_misspelled_hook_without_the_marker_fails_too(self, manager: PluginManager) -> None:
        manager.register(SimpleNamespace(pysoa_register_serialisers=lambda: [FakeSerializer]), name="unmarked")
        expected = "plugin 'unmarked' implements 'pysoa_register_serialisers' (did you mean"
        with pytest.raises(PluginError, match=re.escape(expected)):
            manager.names("serializer")

    def test_a_hook_taking_arguments_the_spec_does_not_have_is_refused(self, manager: PluginManager) -> None:
        manager.register(make_plugin(pysoa_register_serializers=lambda config: [FakeSerializer]), name="args")
        with pytest.raises(PluginError, match=r"Plugin 'args' has an invalid hook implementation.*config"):
            manager.names("serializer")

    def test_a_wrapper_is_refused(self, manager: PluginManager) -> None:
        def wrapper():  # type: ignore[no-untyped-def]
            yield

        plugin = SimpleNamespace(pysoa_register_serializers=hookimpl(wrapper=True)(wrapper))
        manager.register(plugin, name="wrapping")
        with pytest.raises(PluginError, match="registration hooks cannot be wrappers"):
            manager.names("serializer")

    @pytest.mark.parametrize(
        ("returned", "expected"),
        [
            ([FakeSerializer], "returned <class 'tests.core.plugins.fakes.FakeSerializer'>, which is not a subclass"),
            ([object], "returned <class 'object'>, which is not a subclass"),
            (["fake"], "returned 'fake', which is not a subclass"),
            (FakeClientTransport, "must return a list of classes, not <class"),
            ("fake", "must return a list of classes, not 'fake'"),
            (42, "must return a list of classes, not 42"),
        ],
    )
    def test_a_hook_must_return_subclasses_of_its_base_classes(
        self, manager: PluginManager, returned: object, expected: str
    ) -> None:
        manager.register(make_plugin(pysoa_register_transports=lambda: returned), name="wrong")
        with pytest.raises(PluginError) as caught:
            manager.names("client transport")
        message = str(caught.value)
        assert "pysoa_register_transports of plugin 'wrong'" in message
        assert expected in message
        if "not a subclass" in expected:
            assert (
                "pysoa.common.transport.base.ClientTransport or pysoa.common.transport.base.ServerTransport" in message
            )

    def test_a_class_without_a_name_is_refused(self, manager: PluginManager) -> None:
        nameless = _named("", FakeClientMiddleware)
        manager.register(make_plugin(pysoa_register_middleware=lambda: [nameless]), name="nameless")
        with pytest.raises(PluginError, match=r"client middleware class .* of plugin 'nameless' has no 'name'"):
            manager.names("client middleware")

    def test_a_serializer_without_a_mime_type_is_refused(self, manager: PluginManager) -> None:
        no_mime = _named("nomime", FakeSerializer, mime_type="")
        manager.register(make_plugin(pysoa_register_serializers=lambda: [no_mime]), name="nomime")
        with pytest.raises(PluginError, match="has no 'mime_type'"):
            manager.names("serializer")

    def test_a_hook_that_raises_is_reported_with_its_plugin(self, manager: PluginManager) -> None:
        def broken() -> list[type]:
            raise ImportError("No module named 'soa_broken.transport'")

        manager.register(make_plugin(pysoa_register_transports=broken), name="broken")
        with pytest.raises(PluginError) as caught:
            manager.names("client transport")
        assert str(caught.value) == (
            "pysoa_register_transports of plugin 'broken' raised ImportError: No module named 'soa_broken.transport'"
        )
        assert isinstance(caught.value.__cause__, ImportError)

    def test_a_failure_repeats_on_every_lookup_rather_than_leaving_a_half_loaded_registry(
        self, manager: PluginManager
    ) -> None:
        manager.register(make_plugin(pysoa_register_transport=no_classes), name="typo")
        for _ in range(2):
            with pytest.raises(PluginError, match="Unknown hook"):
                manager.serializer("msgpack")


class TestBlockList:
    def test_the_block_list_comes_from_the_environment(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv(BLOCK_ENV_VAR, " redis, json ,, ")
        assert PluginManager().blocked == frozenset({"redis", "json"})

    def test_an_explicit_block_list_replaces_the_environment(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv(BLOCK_ENV_VAR, "redis")
        assert PluginManager(blocked=["zmq"]).blocked == frozenset({"zmq"})
        assert PluginManager(blocked=()).blocked == frozenset()

    def test_a_block_list_must_not_be_a_bare_string(self) -> None:
        with pytest.raises(TypeError, match="not a str"):
            PluginManager(blocked="redis")

    def test_a_blocked_name_is_not_registered_in_code_either(self) -> None:
        manager = PluginManager(autoload=False, blocked=["fakes"])
        manager.register(fake_plugin(), name="fakes")
        assert manager.names("client transport") == []


class TestProcessDefault:
    def test_the_default_manager_is_built_once_and_can_be_replaced(self) -> None:
        previous = set_plugin_manager(None)
        try:
            default = get_plugin_manager()
            assert get_plugin_manager() is default
            assert default.autoload
            mine = PluginManager(autoload=False)
            assert set_plugin_manager(mine) is default
            assert get_plugin_manager() is mine
        finally:
            set_plugin_manager(previous)
