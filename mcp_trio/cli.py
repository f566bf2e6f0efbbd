"""The ``mcp-trio`` command.

The command line is a stable contract: subcommands and flags are only ever added, never renamed.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from typing import Any

import trio

from mcp_trio import __version__
from mcp_trio.runtime.application import Runtime
from mcp_trio.runtime.listeners import HttpListener, StdioListener, TcpListener, UnixListener
from mcp_trio.server.server import Server

__all__ = ["main", "build_parser", "load_server", "parse_host_port"]

log = logging.getLogger("mcp_trio.cli")


class CliError(Exception):
    """A bad command line: printed as ``mcp-trio: error: ...`` with exit status 2."""


def parse_host_port(value: str, *, allow_path: bool = False) -> tuple[str, int, str | None]:
    """``HOST:PORT[/path]`` (``[::1]:PORT`` for IPv6) -> (host, port, path or None)."""
    rest, path = value, None
    if allow_path and "/" in value:
        rest, _, tail = value.partition("/")
        path = "/" + tail
    if rest.startswith("["):
        host, sep, port_text = rest[1:].partition("]:")
    else:
        host, sep, port_text = rest.rpartition(":")
    if not sep or not host or not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT{'[/path]' if allow_path else ''}, got {value!r}")
    return host, int(port_text), path


def _tcp_address(value: str) -> tuple[str, int]:
    host, port, _ = parse_host_port(value)
    return host, port


def _http_address(value: str) -> tuple[str, int, str]:
    host, port, path = parse_host_port(value, allow_path=True)
    return host, port, path or "/mcp"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mcp-trio", description="MCP server and client on Trio.")
    parser.add_argument("--version", action="version", version=f"mcp-trio {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = commands.add_parser(
        "serve",
        help="run an MCP server (the built-in demo server by default)",
        description="Serve an MCP server on one or more transports at once (stdio when none is named).",
        epilog="Several transports may be given at once; --tcp, --unix and --http may each be repeated.",
    )
    serve.add_argument(
        "target",
        nargs="?",
        metavar="module:attribute",
        help="the Server to serve (or a function returning one); default: the built-in demo server",
    )
    serve.add_argument("--stdio", action="store_true", help="serve one session on stdin/stdout")
    serve.add_argument(
        "--tcp", action="append", default=[], type=_tcp_address, metavar="HOST:PORT", help="newline-delimited JSON"
    )
    serve.add_argument("--unix", action="append", default=[], metavar="PATH", help="newline-delimited JSON")
    serve.add_argument(
        "--http",
        action="append",
        default=[],
        type=_http_address,
        metavar="HOST:PORT[/path]",
        help="Streamable HTTP, both wire eras (path /mcp by default)",
    )
    serve.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    return parser


def load_server(target: str | None) -> Server:
    """Import ``module:attribute`` and return the ``Server`` it names (calling it if it is a factory)."""
    if target is None:
        from mcp_trio.demo import build_demo_server

        return build_demo_server()
    module_name, sep, attribute = target.partition(":")
    if not sep or not module_name or not attribute:
        raise CliError(f"expected module:attribute, got {target!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise CliError(f"cannot import {module_name!r}: {exc}") from exc
    obj: Any = module
    for part in attribute.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise CliError(f"{module_name!r} has no attribute {attribute!r}") from None
    if not isinstance(obj, Server) and callable(obj):
        obj = obj()
    if not isinstance(obj, Server):
        raise CliError(f"{target} is a {type(obj).__name__}, not an mcp_trio.Server")
    return obj


async def _serve(server: Server, args: argparse.Namespace) -> None:
    """Run the server's supervision tree with one listener per transport asked for."""
    async with server.open_runtime() as runtime:
        for host, port in args.tcp:
            bound = await runtime.add_listener(TcpListener(host, port))
            print(f"mcp-trio: listening on tcp://{_show(bound[0])}:{bound[1]}", file=sys.stderr, flush=True)
        for path in args.unix:
            await runtime.add_listener(UnixListener(path))
            print(f"mcp-trio: listening on unix://{path}", file=sys.stderr, flush=True)
        for host, port, url_path in args.http:
            bound = await runtime.add_listener(HttpListener(host, port, url_path))
            print(f"mcp-trio: listening on http://{_show(bound[0])}:{bound[1]}{url_path}", file=sys.stderr, flush=True)
        stdio = StdioListener() if args.stdio or not (args.tcp or args.unix or args.http) else None
        if stdio is not None:
            await runtime.add_listener(stdio)
            print("mcp-trio: serving one session on stdio", file=sys.stderr, flush=True)
        shards = len(runtime.shards)
        log.info("supervision tree up: %d shards, %d listeners", shards, len(runtime.app.which_children()) - shards - 2)
        # Everything allocated so far lives as long as the process: keep the collector off it (p99).
        gc.freeze()
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(_report_on_signal, runtime)
                nursery.start_soon(_stop_on_signal, nursery.cancel_scope)
                if stdio is not None:
                    await stdio.finished.wait()  # the client closed stdin: the process is done
                else:
                    await trio.sleep_forever()
                nursery.cancel_scope.cancel()
        finally:
            _exit_if_stuck(2 * runtime.config.shutdown_timeout + 2.0)


def _exit_if_stuck(seconds: float) -> None:
    """The tree is about to stop: if it has not within ``seconds``, end the process anyway.

    A handler that ignores cancellation is abandoned by its supervisor (logged and counted) so everything else
    stops in order, but Trio cannot finish a run while that task lives. A daemon process must still exit, so
    after the deadline this says what was abandoned and exits with status 70 (EX_SOFTWARE).
    """

    def give_up() -> None:  # runs in the timer's thread: no Trio call is allowed here
        log.error(
            "shutdown did not finish within %g s: children the supervisors abandoned (logged above: handlers that "
            "ignore cancellation) still run; exiting without them",
            seconds,
        )
        logging.shutdown()
        os._exit(70)

    timer = threading.Timer(seconds, give_up)
    timer.daemon = True  # a shutdown that finishes in time ends the process, and the timer with it
    timer.start()


async def _stop_on_signal(scope: trio.CancelScope) -> None:
    """SIGINT or SIGTERM stops the server in order (the tree stops listeners first, then connections).

    A signal receiver rather than Trio's ``KeyboardInterrupt``: that is raised in whatever task runs when the
    signal lands, which may be a handler, so the shutdown would start from a random place.
    """
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for received in signals:
            log.info("stopping (%s)", signal.Signals(received).name)
            scope.cancel()
            return


async def _report_on_signal(runtime: Runtime) -> None:
    """``kill -USR1 <pid>`` prints the live supervision tree and per-shard counts on stderr."""
    with trio.open_signal_receiver(signal.SIGUSR1) as signals:
        async for _ in signals:
            print(runtime.report(), file=sys.stderr, flush=True)


def _show(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def main(argv: Sequence[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    if args.command == "serve":
        try:
            server = load_server(args.target)
        except CliError as exc:
            parser.error(str(exc))
        try:
            trio.run(_serve, server, args)
        except* KeyboardInterrupt:
            pass
        except* OSError as group:
            # e.g. the address is in use: a clear line, not a traceback
            print(f"mcp-trio: error: {group.exceptions[0]}", file=sys.stderr)
            sys.exit(1)
