"""The notes service: Django models and caches, used from actions."""

from __future__ import annotations

import os
from typing import Any

from django.core.cache import caches
from django.db import connection

from pysoa.server import Server
from tests.django_project.notes.models import Note


def save_note(request: Any) -> dict[str, Any]:
    note = Note.objects.create(text=request.body["text"])
    return {"id": note.id, "pid": os.getpid()}


def list_notes(request: Any) -> dict[str, Any]:
    return {"notes": list(Note.objects.order_by("id").values_list("text", flat=True))}


def connection_state(request: Any) -> dict[str, Any]:
    return {"open": connection.connection is not None}


def remember(request: Any) -> dict[str, Any]:
    for name in ("request", "process"):
        caches[name].set("value", request.body["value"])
    return {}


def recall(request: Any) -> dict[str, Any]:
    return {name: caches[name].get("value") for name in ("request", "process")}


class NotesServer(Server):
    """Keeps notes in a Django model."""

    service_name = "notes"
    use_django = True
    action_class_map = {
        "save_note": save_note,
        "list_notes": list_notes,
        "connection_state": connection_state,
        "remember": remember,
        "recall": recall,
    }
