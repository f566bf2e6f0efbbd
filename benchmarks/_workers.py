"""What the ``--workers`` benchmarks share: the ``mcp-trio serve --workers N`` parent under test (its ports, its
workers' pids, their summed RSS and CPU time), and generator processes that connect from loopback source addresses
of their own (ephemeral ports are per source address, so many generators open many more connections than one
address's 28K ports allow).
"""

from __future__ import annotations

import dataclasses
import errno
import os
import re
import socket
import subprocess
import sys
from collections.abc import Sequence
from typing import Final

from benchmarks._procs import Children, cpu_seconds, read_until, rss_bytes, unpin

__all__ = [
    "ConnectFailed",
    "Serve",
    "bound_socket",
    "source_addresses",
    "start_connect",
    "start_generators",
    "start_serve",
]

IP_BIND_ADDRESS_NO_PORT: Final = 24  # Linux; not in the socket module
_READY: Final = re.compile(rb"ready \(pid (\d+)\)")


@dataclasses.dataclass
class Serve:
    """The ``mcp-trio serve --workers N`` parent, and what its stderr has said so far."""

    proc: subprocess.Popen[bytes]
    ports: dict[str, int]  # scheme (tcp, http) -> port
    pids: list[int]  # the workers' (from the ``ready (pid N)`` lines: log level info)
    lines: list[bytes]

    def rss(self) -> int:
        """The workers' summed resident set size."""
        return sum(rss_bytes(pid) for pid in self.pids)

    def cpu(self) -> float:
        """The workers' summed CPU time (user + system) so far."""
        return sum(cpu_seconds(pid) for pid in self.pids)


def start_serve(
    children: Children,
    workers: int,
    schemes: Sequence[str],
    *,
    log_level: str = "info",
    env: dict[str, str] | None = None,
) -> Serve:
    """``mcp-trio serve benchmarks.protocol_codec:build_echo_server --workers N`` listening on 127.0.0.1, a port of
    its choosing, for each of ``schemes`` (``tcp``, ``http``), unpinned, as are its workers (they may have started
    before the parent was unpinned); returns once every port is announced and, with more than one worker, the
    workers are ready."""
    argv = [
        sys.executable,
        "-m",
        "mcp_trio",
        "serve",
        "benchmarks.protocol_codec:build_echo_server",
        "--workers",
        str(workers),
    ]
    for scheme in schemes:
        argv += [f"--{scheme}", "127.0.0.1:0"]
    proc = children.start([*argv, "--log-level", log_level], core=0, stdout=subprocess.DEVNULL, env=env)
    unpin(proc.pid)
    assert proc.stderr is not None
    lines: list[bytes] = []
    ports = {
        scheme: int(read_until(proc.stderr, rf"listening on {scheme}://[^:]+:(\d+)".encode(), lines)[1])
        for scheme in schemes
    }
    if workers > 1:
        read_until(proc.stderr, rb"workers ready", lines)
    pids = [int(m[1]) for line in lines if (m := _READY.search(line))]
    for pid in pids:
        unpin(pid)
    return Serve(proc, ports, pids, lines)


def start_generators(
    children: Children, module: str, count: int, port: int, share: int, first: int, *, unpinned: bool = False
) -> list[subprocess.Popen[bytes]]:
    """``count`` generator processes ``python -m MODULE --generate PORT SHARE 127.0.X`` (X from ``first`` on: each
    connects from 127.0.X.1-4, ``source_addresses``), pinned to the cores in turn, or let onto every core
    (``unpinned``); their stdin is a pipe for the coordinator to say when."""
    generators = [
        children.start(
            [sys.executable, "-m", module, "--generate", str(port), str(share), f"127.0.{first + index}"],
            core=index % (os.cpu_count() or 1),
            stdin=subprocess.PIPE,
        )
        for index in range(count)
    ]
    if unpinned:
        for generator in generators:
            unpin(generator.pid)
    return generators


def source_addresses(prefix: str) -> list[str]:
    """A generator's four loopback source addresses ``PREFIX.1-4``, so no address's ephemeral ports fill up."""
    return [f"{prefix}.{host}" for host in range(1, 5)]


def bound_socket(source: str) -> socket.socket:
    """A TCP socket bound to ``source``, its port picked at connect time, per destination: ``bind(addr, 0)`` alone
    would take one of the address's 28K ports for good and search them linearly as they fill."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_IP, IP_BIND_ADDRESS_NO_PORT, 1)
    sock.bind((source, 0))
    return sock


class ConnectFailed(Exception):
    """A non-blocking connect failed at once (its message: ``connect: <strerror>``)."""


def start_connect(source: str, port: int, *, nodelay: bool = False) -> socket.socket:
    """A non-blocking ``bound_socket(source)`` connecting to 127.0.0.1:``port`` (writable once connected); raises
    ``ConnectFailed``, the socket closed, when the connect fails at once."""
    sock = bound_socket(source)
    sock.setblocking(False)
    if nodelay:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    code = sock.connect_ex(("127.0.0.1", port))
    if code not in (0, errno.EINPROGRESS):
        sock.close()
        raise ConnectFailed(f"connect: {os.strerror(code)}")
    return sock
