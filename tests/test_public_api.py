"""The public API is a contract: these lists change only on purpose."""

from __future__ import annotations

import mcp_trio
import mcp_trio.server


def test_top_level_api_is_pinned() -> None:
    assert mcp_trio.__all__ == [
        "__version__",
        "Server",
        "ServerConfig",
        "Context",
        "ToolError",
        "McpError",
        "InvalidParams",
        "InvalidRequest",
        "MethodNotFound",
        "MissingClientCapability",
        "ResourceNotFound",
        "RemoteError",
        "ServerBusy",
        "BreakerSettings",
        "CircuitBreaker",
        "CircuitOpen",
        "open_client",
        "Client",
        "ClientConfig",
        "ConnectionClosed",
        "RequestTimeout",
    ]
    for name in mcp_trio.__all__:
        assert getattr(mcp_trio, name) is not None


def test_client_package_api_is_pinned() -> None:
    import mcp_trio.client

    assert mcp_trio.client.__all__ == [
        "Client",
        "ClientConfig",
        "ConnectionClosed",
        "RequestTimeout",
        "HttpConnectionError",
        "apply_schema_defaults",
        "open_client",
        "OAuthClient",
        "AuthorizationCode",
        "ClientCredentials",
        "ClientMetadata",
        "ClientRegistration",
        "TokenStorage",
        "Tokens",
        "AuthError",
    ]
    for name in mcp_trio.client.__all__:
        assert getattr(mcp_trio.client, name).__module__.startswith("mcp_trio.client")


def test_observability_package_api_is_pinned() -> None:
    import mcp_trio.observability

    assert mcp_trio.observability.__all__ == [
        "Observer",
        "GcPauses",
        "MemoryProfiler",
        "MemorySnapshot",
        "MetricsCollector",
        "exposition",
        "AdminEndpoint",
        "Watched",
        "serve_admin",
        "WorkersObserver",
        "render_health",
    ]
    for name in mcp_trio.observability.__all__:
        assert getattr(mcp_trio.observability, name).__module__.startswith("mcp_trio.observability")


def test_server_package_api_is_pinned() -> None:
    assert sorted(mcp_trio.server.__all__) == sorted(
        [
            "Server",
            "ServerConfig",
            "Context",
            "ToolError",
            "InputRequired",
            "Peer",
            "SessionDriver",
            "Dispatcher",
            "NotificationHub",
            "Subscriber",
            "TaskManager",
            "ToolDefinition",
            "ResourceDefinition",
            "TemplateDefinition",
            "PromptDefinition",
            "Message",
            "UserMessage",
            "AssistantMessage",
            "ModelElicitation",
            "ResourceReadout",
            "ReadResourceContents",
        ]
    )
    for name in mcp_trio.server.__all__:
        assert getattr(mcp_trio.server, name).__module__.startswith("mcp_trio.server")


def test_runtime_package_api_is_pinned() -> None:
    import mcp_trio.runtime

    assert mcp_trio.runtime.__all__ == [
        "Runtime",
        "open_runtime",
        "RuntimeConfig",
        "Shard",
        "ShardStatistics",
        "TcpListener",
        "UnixListener",
        "StdioListener",
        "HttpListener",
        "WebSocketListener",
        "LoopWatchdog",
        "WatchdogStatistics",
        "Admission",
        "Refusal",
        "TokenBucket",
        "KeyedBuckets",
        "CircuitBreaker",
        "CircuitOpen",
        "BreakerStatistics",
        "LoadShedder",
        "ShedLevel",
        "ReleasePolicy",
    ]
    for name in mcp_trio.runtime.__all__:
        assert getattr(mcp_trio.runtime, name) is not None
