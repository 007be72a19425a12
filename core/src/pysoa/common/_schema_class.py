"""PySOA declared transport settings schemas as ``fields.Dictionary`` subclasses; soa-core keeps schema instances.

:func:`schema_class` turns an instance into such a class, for the PySOA-path names (``RedisTransportSchema``,
``LocalClientTransportSchema``, ...): ``SchemaClass()`` validates exactly as the instance does.
"""

from __future__ import annotations

from conformity import fields

__all__ = ["schema_class"]


def schema_class(name: str, schema: fields.Dictionary, module: str) -> type[fields.Dictionary]:
    """A ``fields.Dictionary`` subclass ``module.name`` whose instances check what ``schema`` checks."""

    class SchemaClass(fields.Dictionary):
        contents = schema.contents
        optional_keys = schema.optional_keys
        allow_extra_keys = schema.allow_extra_keys
        description = schema.description

        def __attrs_post_init__(self) -> None:
            super().__attrs_post_init__()
            if self.additional_validator is None:  # conformity takes only the attributes above from the class
                self.additional_validator = schema.additional_validator

    SchemaClass.__name__ = SchemaClass.__qualname__ = name
    SchemaClass.__module__ = module
    SchemaClass.__doc__ = f"{schema.description or 'The settings schema'} (as a class, PySOA's form)."
    return SchemaClass
