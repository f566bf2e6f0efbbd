"""The public surface of ``mcp_trio.protocol`` is pinned, resolves lazily, and keeps the subpackages light."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import mcp_trio.protocol as protocol

EXPECTED_ALL = [
    # framing
    "LineFramer", "NEED_DATA", "DEFAULT_MAX_MESSAGE_SIZE",
    # jsonrpc
    "Request", "Notification", "Response", "ErrorResponse", "ErrorObject", "Message", "RequestId",
    "decode_message", "encode_message", "error_response",
    # errors
    "ErrorCode", "McpError", "ParseError", "InvalidRequest", "MessageTooLarge", "MethodNotFound", "InvalidParams",
    "InternalError", "ResourceNotFound", "HeaderMismatch", "MissingClientCapability", "UnsupportedProtocolVersion",
    "ServerBusy", "LocalProtocolError", "RemoteError", "error_from_exception", "DECODE_ERRORS",
    # events
    "ProgressToken", "ModernMeta", "RequestReceived", "NotificationReceived", "ResponseReceived", "ErrorReceived",
    "CancelRequested", "SessionInitialized", "Answered", "Event",
    # sessions
    "ServerSession", "accept_modern_request", "ClientSession",
    # modern
    "read_modern_meta",
    # versions
    "Era", "LEGACY_VERSIONS", "MODERN_VERSIONS", "LATEST_LEGACY_VERSION", "LATEST_MODERN_VERSION",
    "BATCHING_VERSIONS", "DEFAULT_HTTP_LEGACY_VERSION", "era_of", "negotiate_legacy_version",
    # request_state
    "RequestStateSealer",
    # profile
    "ServerProfile",
]  # fmt: skip


def test_all_is_pinned() -> None:
    assert protocol.__all__ == EXPECTED_ALL
    assert len(set(EXPECTED_ALL)) == len(EXPECTED_ALL)


def test_every_public_name_resolves_to_the_object_of_its_home_module() -> None:
    for name in EXPECTED_ALL:
        value = getattr(protocol, name)
        home = importlib.import_module(f"mcp_trio.protocol.{protocol._MODULE_OF[name]}")
        assert value is getattr(home, name), name
    assert set(protocol._MODULE_OF) == set(EXPECTED_ALL)
    assert set(EXPECTED_ALL) <= set(dir(protocol))


def test_errors_and_events_are_exported_whole() -> None:
    from mcp_trio.protocol import errors, events, versions

    for module in (errors, events, versions):
        assert set(module.__all__) <= set(EXPECTED_ALL), module.__name__


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="NoSuchThing"):
        protocol.NoSuchThing  # noqa: B018


def test_importing_the_package_loads_no_session_machinery_until_asked() -> None:
    code = "import sys, mcp_trio.protocol; print('mcp_trio.protocol.session' in sys.modules, 'trio' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout.split()
    assert out == ["False", "False"]
