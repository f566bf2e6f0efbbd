"""Every public struct survives encode -> decode unchanged, with absent and null kept apart.

Strategies are derived from the structs themselves (``msgspec.inspect``), so a new field or struct is
covered without touching this file. Optional fields draw ``UNSET`` as well as values; nullable and
``Any`` fields draw ``None``; JSON-Schema dicts and ``Any`` fields get small JSON values.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import msgspec
import msgspec.inspect as mi
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mcp_trio.protocol import types

INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
FLOATS = st.floats(allow_nan=False, allow_infinity=False)
TEXT = st.text(st.characters(codec="utf-8"), max_size=6)
JSON_VALUES: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | INT64 | FLOATS | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=6,
)

# Structs whose __post_init__ enforces a schema union: only draw valid combinations.
VALIDITY: dict[type, Callable[[dict[str, Any]], bool]] = {
    types.ResourceContents: lambda kw: (kw["text"] is msgspec.UNSET) != (kw["blob"] is msgspec.UNSET),
    types.ElicitRequestParams: lambda kw: (
        kw["url"] is not msgspec.UNSET if kw["mode"] == "url" else kw["requested_schema"] is not msgspec.UNSET
    ),
}

STRUCTS = sorted(
    (
        obj
        for name in types.__all__
        if isinstance(obj := getattr(types, name), type) and issubclass(obj, msgspec.Struct)
    ),
    key=lambda cls: cls.__name__,
)


def strategy_for(info: mi.Type) -> st.SearchStrategy[Any]:
    """A strategy producing valid Python values for one msgspec type."""
    match info:
        case mi.AnyType():
            return JSON_VALUES
        case mi.NoneType():
            return st.none()
        case mi.BoolType():
            return st.booleans()
        case mi.IntType():
            return INT64
        case mi.FloatType():
            return FLOATS
        case mi.StrType():
            return TEXT
        case mi.LiteralType(values=values):
            return st.sampled_from(values)
        case mi.RawType():
            return JSON_VALUES.map(lambda value: msgspec.Raw(msgspec.json.encode(value)))
        case mi.ListType(item_type=item):
            return st.lists(strategy_for(item), max_size=2)
        case mi.DictType(key_type=key, value_type=value):
            return st.dictionaries(strategy_for(key), strategy_for(value), max_size=2)
        case mi.UnionType(types=members):
            return st.one_of([strategy_for(member) for member in members])
        case mi.StructType(cls=cls):
            return struct_strategy(cls)
    raise TypeError(f"no hypothesis strategy for {info!r}: teach strategy_for this kind of type")


@functools.cache
def struct_strategy(cls: type[msgspec.Struct]) -> st.SearchStrategy[Any]:
    info = mi.type_info(cls)
    assert isinstance(info, mi.StructType)
    fields: dict[str, st.SearchStrategy[Any]] = {}
    for field in info.fields:
        value = strategy_for(field.type)
        fields[field.name] = value if field.required else st.just(msgspec.UNSET) | value
    kwargs = st.fixed_dictionaries(fields)
    if cls in VALIDITY:
        kwargs = kwargs.filter(VALIDITY[cls])
    return kwargs.map(lambda kw: cls(**kw))


def nullable_fields() -> list[tuple[type[msgspec.Struct], str, str]]:
    """(struct, attribute, wire name) for every field that may be explicitly null on the wire."""
    found = []
    for cls in STRUCTS:
        info = mi.type_info(cls)
        assert isinstance(info, mi.StructType)
        for field in info.fields:
            members = field.type.types if isinstance(field.type, mi.UnionType) else (field.type,)
            if not field.required and any(isinstance(m, mi.NoneType | mi.AnyType) for m in members):
                found.append((cls, field.name, field.encode_name))
    return found


NULLABLE = nullable_fields()
ROUND_TRIP_SETTINGS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)


def test_every_public_struct_is_covered() -> None:
    assert len(STRUCTS) > 100
    assert types.ResourceContents in STRUCTS
    assert types.Task in STRUCTS


@pytest.mark.parametrize("cls", STRUCTS, ids=lambda cls: cls.__name__)
@ROUND_TRIP_SETTINGS
@given(data=st.data())
def test_struct_round_trips_through_json(cls: type[msgspec.Struct], data: st.DataObject) -> None:
    value = data.draw(struct_strategy(cls))
    wire = msgspec.json.encode(value)
    assert msgspec.json.decode(wire, type=cls) == value


def test_nullable_fields_exist_for_each_era() -> None:
    names = {(cls.__name__, wire) for cls, _, wire in NULLABLE}
    assert ("Task", "ttl") in names  # 2025-11-25: null = unlimited
    assert ("Task", "ttlMs") in names  # tasks extension
    assert ("CallToolResult", "structuredContent") in names  # any JSON value, null included


@pytest.mark.parametrize(("cls", "attr", "wire_name"), NULLABLE, ids=lambda x: getattr(x, "__name__", x))
@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(data=st.data())
def test_explicit_null_is_kept_and_unset_is_omitted(
    cls: type[msgspec.Struct], attr: str, wire_name: str, data: st.DataObject
) -> None:
    value = data.draw(struct_strategy(cls))

    with_null = msgspec.structs.replace(value, **{attr: None})
    encoded = msgspec.json.decode(msgspec.json.encode(with_null))
    assert wire_name in encoded
    assert encoded[wire_name] is None
    assert getattr(msgspec.json.decode(msgspec.json.encode(with_null), type=cls), attr) is None

    without = msgspec.structs.replace(value, **{attr: msgspec.UNSET})
    assert wire_name not in msgspec.json.decode(msgspec.json.encode(without))
    assert getattr(msgspec.json.decode(msgspec.json.encode(without), type=cls), attr) is msgspec.UNSET
