"""The client over WebSocket (``ws://``, ``wss://``): both eras against our server, refused upgrades, headers, a server
that shuts down mid-call, and TLS checked against the system trust store."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import trio
from client_test_helpers import relay_bytes

from mcp_trio.client import ClientConfig, ConnectionClosed, open_client
from mcp_trio.demo import build_demo_server
from mcp_trio.protocol.errors import RemoteError
from mcp_trio.protocol.types import TextContent
from mcp_trio.runtime import WebSocketListener
from mcp_trio.runtime.application import Runtime
from mcp_trio.transports.websocket import WebSocketConfig


def text(result: Any) -> str:
    block = result.content[0]
    assert isinstance(block, TextContent)
    return block.text


@asynccontextmanager
async def serving(config: WebSocketConfig | None = None) -> AsyncIterator[tuple[Runtime, int, trio.CancelScope]]:
    """The demo server on a WebSocket; the runtime, its port, and a scope that shuts it down."""

    async def run(*, task_status: trio.TaskStatus[tuple[Runtime, int]]) -> None:
        async with build_demo_server().open_runtime() as runtime:
            _, port = await runtime.add_listener(WebSocketListener("127.0.0.1", 0, config=config))
            task_status.started((runtime, port))
            await trio.sleep_forever()

    async with trio.open_nursery() as nursery:
        scope = trio.CancelScope()

        async def scoped(*, task_status: trio.TaskStatus[tuple[Runtime, int]]) -> None:
            with scope:
                await run(task_status=task_status)

        runtime, port = await nursery.start(scoped)
        yield runtime, port, scope
        nursery.cancel_scope.cancel()


@pytest.mark.parametrize("era", ["auto", "legacy", "modern"])
async def test_ws_carries_both_eras_calls_progress_and_ping(era: str) -> None:
    async with serving() as (runtime, port, _):
        config = ClientConfig(era=era)  # type: ignore[arg-type]
        async with open_client(f"ws://127.0.0.1:{port}/mcp", config=config) as client:
            assert client.era == ("legacy" if era == "legacy" else "modern")
            assert "echo" in [tool.name for tool in await client.list_tools()]
            assert text(await client.call_tool("echo", {"text": "hi"})) == "hi"
            steps: list[float] = []
            await client.call_tool("sleep", {"seconds": 0.01}, on_progress=lambda p, t, m: steps.append(p))
            assert steps == list(range(1, 11))
            await client.ping()
            assert runtime.overload()["connections"] == 1
        with trio.fail_after(5):  # the client's Close ended the server's side too
            while runtime.overload()["connections"]:
                await trio.testing.wait_all_tasks_blocked()


async def test_the_client_answers_the_servers_keep_alive_pings(autojump_clock: trio.testing.MockClock) -> None:
    config = WebSocketConfig(ping_interval=10.0, pong_timeout=5.0)
    async with serving(config) as (runtime, port, _), open_client(f"ws://127.0.0.1:{port}/mcp") as client:
        await trio.sleep(120)  # a dozen pings, each answered by the client's framer
        assert runtime.overload()["connections"] == 1
        await client.ping()


async def test_a_refused_upgrade_raises_the_servers_json_rpc_error() -> None:
    async with serving() as (_, port, _):
        with pytest.raises(RemoteError, match="no MCP endpoint at '/elsewhere'"):
            async with open_client(f"ws://127.0.0.1:{port}/elsewhere"):
                pass


async def test_headers_go_with_the_upgrade() -> None:
    async with serving(WebSocketConfig(allowed_origins=("https://app.example",))) as (_, port, _):
        url = f"ws://127.0.0.1:{port}/mcp"
        with pytest.raises(RemoteError, match="Origin not allowed"):
            async with open_client(url, headers={"Origin": "https://evil.example"}):
                pass
        async with open_client(url, headers={"Origin": "https://app.example"}) as client:
            await client.ping()


async def test_a_server_shutting_down_mid_call_ends_the_call_with_connection_closed() -> None:
    async with serving() as (runtime, port, shutdown), open_client(f"ws://127.0.0.1:{port}/mcp") as client:
        failures: list[BaseException] = []

        async def call() -> None:
            try:
                await client.call_tool("sleep", {"seconds": 30})
            except ConnectionClosed as exc:
                failures.append(exc)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(call)
            with trio.fail_after(5):
                while not runtime.overload()["in_flight"]:
                    await trio.testing.wait_all_tasks_blocked()
            shutdown.cancel()
        assert len(failures) == 1
        with pytest.raises(ConnectionClosed):
            await client.ping()


async def test_bad_ws_urls_and_auth_get_clear_errors() -> None:
    with pytest.raises(ValueError, match="host"):
        async with open_client("ws://127.0.0.1:notaport/mcp"):
            pass
    with pytest.raises(ValueError, match="auth applies to http"):
        async with open_client("ws://127.0.0.1:1/mcp", auth=object()):
            pass
    with pytest.raises(OSError, match="connect"):
        async with open_client("ws://127.0.0.1:1/mcp"):
            pass


# ------------------------------------------------------------------------------------------ wss://


def _certificates(directory: Path) -> tuple[Path, Path, Path]:
    """A CA (the trust store) and a certificate for 127.0.0.1 it signed, with its key."""
    x509 = pytest.importorskip("cryptography.x509")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)

    def certificate(subject: str, key: Any, issuer: str, signer: Any, ca: bool) -> Any:
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if not ca:
            san = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
            builder = builder.add_extension(san, critical=False)
        return builder.sign(signer, hashes.SHA256())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    ca = certificate("test CA", ca_key, "test CA", ca_key, ca=True)
    leaf = certificate("127.0.0.1", leaf_key, "test CA", ca_key, ca=False)
    paths = directory / "ca.pem", directory / "leaf.pem", directory / "leaf.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        leaf_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return paths


@asynccontextmanager
async def tls_in_front_of(port: int, certificate: Path, key: Path) -> AsyncIterator[int]:
    """A TLS terminator on a port of its own, relaying to ``port`` (our server speaks plain ws://)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certificate, key)

    async def handler(client: trio.SSLStream[trio.SocketStream]) -> None:
        backend = await trio.open_tcp_stream("127.0.0.1", port)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(relay_bytes, client, backend)
            nursery.start_soon(relay_bytes, backend, client)

    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(trio.serve_ssl_over_tcp, handler, 0, context)
        yield listeners[0].transport_listener.socket.getsockname()[1]
        nursery.cancel_scope.cancel()


async def test_wss_speaks_tls_checked_against_the_system_trust_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ca, certificate, key = _certificates(tmp_path)
    config = WebSocketConfig(allowed_hosts=("127.0.0.1",))  # the Host names the terminator's port
    async with serving(config) as (_, port, _), tls_in_front_of(port, certificate, key) as tls_port:
        url = f"wss://127.0.0.1:{tls_port}/mcp"
        with pytest.raises(ConnectionError, match="CERTIFICATE_VERIFY_FAILED"):
            async with open_client(url):
                pass
        monkeypatch.setenv("SSL_CERT_FILE", str(ca))  # what ssl.create_default_context() trusts
        async with open_client(url) as client:
            assert text(await client.call_tool("echo", {"text": "over tls"})) == "over tls"
