"""Pydantic models in tool signatures, as official-SDK servers write them: described in the schema, validated on
input (constraints included), dumped on output; and a type nobody can describe is refused at registration."""

from __future__ import annotations

import pathlib
from typing import Annotated, Any

import pydantic
import pytest
from pydantic import BaseModel, Field

from mcp_trio import Context, Server
from mcp_trio.protocol.errors import LocalProtocolError
from mcp_trio.server import pydantic_support
from mcp_trio.server.signature import find_context_parameter
from mcp_trio.testing import open_client


class Item(BaseModel):
    name: str
    price: float = Field(gt=0, description="in euros")


class Order(BaseModel):
    items: list[Item]
    total: float


@pydantic.dataclasses.dataclass
class Point:
    x: int
    y: int = 0


def _shop() -> Server:
    server = Server("shop")

    @server.tool(blocking=False)
    def place(
        items: list[Item],
        buyer: Annotated[Item | None, Field(description="who pays")] = None,
        note: Annotated[str, Field(max_length=8)] = "",
    ) -> Order:
        return Order(items=items, total=sum(item.price for item in items))

    @server.tool()
    async def cheapest(items: list[Item]) -> list[Item]:
        return sorted(items, key=lambda item: item.price)[:1]

    @server.tool(blocking=False)
    def untyped(point: Point):  # type: ignore[no-untyped-def]  # no return annotation: unstructured
        return {"point": point}

    return server


async def _call(client: Any, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    answer = await client.request("tools/call", {"name": name, "arguments": arguments})
    result: dict[str, Any] = answer["result"]
    return result


def test_a_model_parameter_is_described_with_its_constraints() -> None:
    schema = _shop().tools["place"].tool.input_schema
    assert schema["required"] == ["items"]
    assert schema["properties"]["items"] == {"type": "array", "items": {"$ref": "#/$defs/Item"}}
    price = schema["$defs"]["Item"]["properties"]["price"]
    assert price["exclusiveMinimum"] == 0
    assert price["description"] == "in euros"
    buyer = schema["properties"]["buyer"]
    assert buyer["description"] == "who pays"
    assert buyer["default"] is None
    assert schema["properties"]["note"]["maxLength"] == 8  # a primitive stays on the msgspec path


async def test_model_arguments_are_validated_and_results_structured() -> None:
    server = _shop()
    tool = server.tools["place"].tool
    assert tool.output_schema["title"] == "Order"
    assert tool.output_schema["$defs"]["Item"]["type"] == "object"
    async with open_client(server) as client:
        await client.initialize()
        good = await _call(client, "place", {"items": [{"name": "tea", "price": 2.5}, {"name": "jam", "price": 4}]})
        assert good.get("isError") is not True
        assert good["structuredContent"] == {
            "items": [{"name": "tea", "price": 2.5}, {"name": "jam", "price": 4.0}],
            "total": 6.5,
        }
        bad = await _call(client, "place", {"items": [{"name": "tea", "price": -1}, {"price": 1}]})
        assert bad["isError"] is True
        text = bad["content"][0]["text"]
        assert "greater than 0 - at `$.items[0].price`" in text
        assert "Field required - at `$.items[1].name`" in text
        wrong_buyer = await _call(client, "place", {"items": [], "buyer": {"name": "x"}})
        assert wrong_buyer["isError"] is True
        assert "$.buyer.price" in wrong_buyer["content"][0]["text"]


async def test_a_list_of_models_is_wrapped_and_an_unannotated_model_is_json_text() -> None:
    server = _shop()
    assert server.tools["cheapest"].tool.output_schema["properties"]["result"]["type"] == "array"
    async with open_client(server) as client:
        await client.initialize()
        cheapest = await _call(client, "cheapest", {"items": [{"name": "a", "price": 3}, {"name": "b", "price": 1}]})
        assert cheapest["structuredContent"] == {"result": [{"name": "b", "price": 1.0}]}
        untyped = await _call(client, "untyped", {"point": {"x": 1}})
        assert untyped.get("isError") is not True
        assert untyped["content"][0]["text"] == '{"point":{"x":1,"y":0}}'


class Opaque:
    """Neither msgspec nor pydantic can describe it."""


ThingA = pydantic.create_model("Thing", a=(int, ...))
ThingB = pydantic.create_model("Thing", b=(str, ...))


def test_a_type_nobody_can_describe_is_refused_naming_the_parameter() -> None:
    def take(thing: Opaque) -> str:
        return ""

    with pytest.raises(LocalProtocolError, match=r"take: parameter 'thing': type .*Opaque cannot be described"):
        Server("refused").add_tool(take)


def test_without_pydantic_a_type_only_it_knows_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pydantic_support, "pydantic_available", lambda: False)

    def read(path: pathlib.Path) -> str:
        return ""

    with pytest.raises(LocalProtocolError, match=r"read: parameter 'path'.*mcp-trio\[pydantic\]"):
        Server("no-pydantic").add_tool(read)


def test_two_different_types_with_one_name_are_refused() -> None:
    def both(one: list[ThingA], two: list[ThingB]) -> str:  # type: ignore[valid-type]
        return ""

    with pytest.raises(LocalProtocolError, match="two different types are both named 'Thing'"):
        Server("clash").add_tool(both)


async def test_a_pydantic_dataclass_parameter_and_a_template_variable() -> None:
    server = Server("mixed")

    @server.tool(blocking=False)
    def norm(point: Point) -> int:
        return abs(point.x) + abs(point.y)

    @server.resource("item://{price}")
    def item(price: Annotated[float, Field(gt=0)]) -> str:
        return f"{price:.2f}"

    async with open_client(server) as client:
        await client.initialize()
        assert (await _call(client, "norm", {"point": {"x": -2, "y": 3}}))["structuredContent"] == {"result": 5}
        read = await client.request("resources/read", {"uri": "item://1.5"})
        assert read["result"]["contents"][0]["text"] == "1.50"


class MyContext(Context):
    """A subclass, as some servers define."""


def _plain(ctx: Context) -> None: ...
def _optional(x: int, ctx: Context | None = None) -> None: ...
def _sub(ctx: MyContext) -> None: ...
def _neither(x: int, y: int | None = None) -> None: ...


def test_the_context_parameter_is_found_in_every_spelling_the_sdk_uses() -> None:
    assert find_context_parameter(_plain, Context) == "ctx"
    assert find_context_parameter(_optional, Context) == "ctx"
    assert find_context_parameter(_sub, Context) == "ctx"
    assert find_context_parameter(_neither, Context) is None
