"""``ServerProfile.offers``: the remembered capability check every request makes."""

from __future__ import annotations

import attrs
import pytest

from mcp_trio.protocol.profile import ServerProfile
from mcp_trio.protocol.types import Implementation, ListChangedCapability, ServerCapabilities, capability_enabled

_INFO = Implementation(name="t", version="1")
_PATHS = ("tools", "tools.listChanged", "prompts", "resources.subscribe", "extensions.io.modelcontextprotocol/tasks")


@pytest.mark.parametrize("path", _PATHS)
def test_offers_agrees_with_capability_enabled_on_first_and_later_asks(path: str) -> None:
    capabilities = ServerCapabilities(tools=ListChangedCapability(list_changed=True), extensions={"x": {}})
    profile = ServerProfile(_INFO, capabilities)
    expected = capability_enabled(capabilities, path)
    assert profile.offers(path) is expected
    assert profile.offers(path) is expected


def test_a_new_profile_does_not_share_what_an_old_one_remembered() -> None:
    bare = ServerProfile(_INFO, ServerCapabilities())
    assert not bare.offers("tools")
    richer = attrs.evolve(bare, capabilities=ServerCapabilities(tools=ListChangedCapability()))
    assert richer.offers("tools")
    assert not bare.offers("tools")
    assert richer == attrs.evolve(richer)  # the memo is not part of equality
