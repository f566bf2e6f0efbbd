"""The ``mcp-trio`` command.

The command line is a stable contract: subcommands and flags are only ever added, never renamed.
"""

from __future__ import annotations

import argparse
import functools
import gc
import importlib
import logging
import os
import signal
import sys
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import attrs
import trio

from mcp_trio import __version__
from mcp_trio.config import ConfigError, DaemonConfig, ServeSettings, load_config
from mcp_trio.observability import Observer, serve_admin
from mcp_trio.runtime.admission import descriptor_limit
from mcp_trio.runtime.application import Runtime
from mcp_trio.runtime.listeners import HttpListener, StdioListener, TcpListener, UnixListener, WebSocketListener
from mcp_trio.server.server import Server
from mcp_trio.transports.http import DirectorySessionStore, HttpConfig
from mcp_trio.workers import (
    REQUEST_STATE_KEY_ENV,
    WORKER_BUS_ENV,
    WORKER_DIR_ENV,
    WORKER_ID_ENV,
    WorkerBus,
    WorkerSettings,
    connection_capacity,
    raise_file_limit,
    reserve_ports,
    serve_workers,
)
from supervision import SupervisorEscalation

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
    health = commands.add_parser(
        "health",
        help="print a server's health document (from its admin endpoint); exit 1 unless it is healthy",
        description="Fetch /health from a server's admin endpoint (mcp-trio serve --admin) and print it.",
    )
    health.add_argument("url", nargs="?", default="http://127.0.0.1:9100/health", help="default: %(default)s")
    health.add_argument("--json", action="store_true", help="print the document as JSON")
    serve = commands.add_parser(
        "serve",
        help="run an MCP server (the built-in demo server by default)",
        description="Serve an MCP server on one or more transports at once (stdio when none is named).",
        epilog="Several transports may be given at once; --tcp, --unix, --http and --ws may each be repeated.",
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
    serve.add_argument(
        "--ws",
        action="append",
        default=[],
        type=_http_address,
        metavar="HOST:PORT[/path]",
        help="WebSocket, a non-standard transport (SEP-1288: subprotocol mcp), both wire eras (path /mcp by default)",
    )
    serve.add_argument("--config", default=None, metavar="FILE", help="a TOML config file (see `mcp-trio config show`)")
    serve.add_argument(
        "--workers",
        default=None,
        type=_workers,
        metavar="N",
        help="worker processes sharing the ports (SO_REUSEPORT), supervised by this one; 'auto': one per core",
    )
    serve.add_argument(
        "--connections",
        default=None,
        type=_connections,
        metavar="N",
        help="connections the server must hold at once: exit 2 at start-up if the workers' capacity is short",
    )
    serve.add_argument(
        "--admin",
        type=_tcp_address,
        default=None,
        metavar="HOST:PORT",
        help="serve /health, /ready and /metrics on this address (use 127.0.0.1; bearer token: MCP_TRIO_ADMIN_TOKEN)",
    )
    serve.add_argument("--worker-channel", type=int, default=None, help=argparse.SUPPRESS)  # set by the parent
    serve.add_argument("--log-level", default=None, choices=["debug", "info", "warning", "error"])
    serve.add_argument(
        "--log-format", default=None, choices=["text", "json"], help="json: one JSON object per line (on stderr)"
    )
    soak = commands.add_parser(
        "soak",
        help="run a load scenario (baseline, flood, bomb, idle) against our server or any MCP server",
        description="Run a seed scenario with open-loop pacing; prints progress every second and a summary, writes "
        "a JSON report, and exits 1 when an SLA gate is breached.",
    )
    soak.add_argument("scenario", choices=["baseline", "flood", "bomb", "idle", "mix", "compare"])
    soak.add_argument("reports", nargs="*", metavar="REPORT", help="compare: the JSON reports to put side by side")
    soak.add_argument("--target", default=None, help="a URL or command line (default: start our server over TCP)")
    soak.add_argument("--target-pid", type=int, action="append", default=[], help="sample this process's memory")
    soak.add_argument("--allow-remote", action="store_true", help="allow a target that is not on this machine")
    for name, kind in (("sessions", int), ("rate", float), ("duration", float), ("ramp", float), ("depth", int)):
        soak.add_argument(f"--{name}", type=kind, default=None)
    soak.add_argument("--warmup", type=float, default=None)
    soak.add_argument("--cooldown", type=float, default=None)
    soak.add_argument(
        "--bomb-rate",
        type=float,
        default=None,
        metavar="R",
        help="bomb: calls/s per session while bombing, open loop, at most --depth unanswered (default: closed loop)",
    )
    soak.add_argument("--processes", type=int, default=1, help="load-generator processes (default 1)")
    soak.add_argument("--workers", type=int, default=1, help="our server's --workers")
    soak.add_argument("--era", choices=["auto", "modern", "legacy"], default="auto")
    soak.add_argument(
        "--engine",
        choices=["auto", "lean", "client"],
        default="auto",
        help="load engine: lean (one event loop per process; tcp:// and unix: targets), client (an open_client "
        "session each; any target); auto: lean where it applies",
    )
    soak.add_argument("--sla", default="", help="gates, e.g. p95=150ms,p99=300ms,errors=0.1%%,rss_growth=25%%")
    soak.add_argument("--report", default=None, metavar="FILE", help="write the JSON report here")
    soak.add_argument("--html", default=None, metavar="FILE", help="write a self-contained HTML report with charts")
    soak.add_argument("--png", default=None, metavar="DIR", help="write PNG charts here (needs matplotlib)")
    soak.add_argument(
        "--progress",
        default="auto",
        choices=["auto", "rich", "plain", "none"],
        help="live table (rich), a line per second (plain), or nothing; auto: rich when stderr is a terminal",
    )
    soak.add_argument(
        "--admin",
        default=None,
        metavar="URL",
        help="the admin endpoint of a --target that is an mcp-trio server: its /health before and after the run",
    )
    soak.add_argument(
        "--source-addresses",
        type=int,
        default=None,
        metavar="N",
        help="spread sessions over 127.0.0.1..N (a target on 127.0.0.1; default: 1 per 20,000 sessions)",
    )
    config = commands.add_parser(
        "config",
        help="show the effective configuration, or check a config file",
        description="Configuration: defaults, then a TOML file, then MCP_TRIO_<SECTION>_<KEY>, then flags.",
    )
    actions = config.add_subparsers(dest="action", required=True, metavar="ACTION")
    show = actions.add_parser("show", help="print the effective configuration, with where each value came from")
    show.add_argument("--config", default=None, metavar="FILE", help="a TOML config file")
    check = actions.add_parser("check", help="validate a config file (exit 2 with the problem if it is bad)")
    check.add_argument("file", metavar="FILE")
    return parser


def _connections(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"expected a number of connections (at least 1), got {value!r}")
    return int(value)


def _workers(value: str) -> int:
    if value == "auto":
        return len(os.sched_getaffinity(0)) or 1
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"expected a number of workers (at least 1) or 'auto', got {value!r}")
    return int(value)


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
        try:
            obj = obj()  # a factory: build_server()
        except Exception as exc:  # noqa: BLE001 - whatever the user's callable raises, said in one line
            raise CliError(f"calling {target}() to build the server failed: {type(exc).__name__}: {exc}") from None
    if not isinstance(obj, Server):
        raise CliError(f"{target} is a {type(obj).__name__}, not an mcp_trio.Server")
    return obj


async def _serve(server: Server, args: argparse.Namespace) -> None:
    """Run the server's supervision tree with one listener per transport asked for."""
    worker = args.worker_channel is not None  # one of several: SO_REUSEPORT, and the parent announces
    say = _quiet if worker else _say
    # Signals are caught from here on (queued until their tasks read them): one sent as soon as a listener is
    # announced must not meet the default action, which kills the process.
    with (
        trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as stops,
        trio.open_signal_receiver(signal.SIGUSR1) as reports,
        trio.open_signal_receiver(signal.SIGHUP) as reloads,
    ):
        await _serve_with_signals(server, args, say, stops, reports, reloads)


async def _serve_with_signals(
    server: Server,
    args: argparse.Namespace,
    say: Callable[[str], None],
    stops: AsyncIterator[int],
    reports: AsyncIterator[int],
    reloads: AsyncIterator[int],
) -> None:
    worker = args.worker_channel is not None
    async with server.open_runtime() as runtime:
        for host, port in args.tcp:
            bound = await runtime.add_listener(TcpListener(host, port, reuse_port=worker))
            say(f"mcp-trio: listening on tcp://{_show(bound[0])}:{bound[1]}")
        for path in args.unix:
            await runtime.add_listener(UnixListener(path))
            say(f"mcp-trio: listening on unix://{path}")
        for index, (host, port, url_path) in enumerate(args.http):
            config = _worker_http_config(index, args.http_config) if worker else args.http_config
            bound = await runtime.add_listener(HttpListener(host, port, url_path, config, reuse_port=worker))
            say(f"mcp-trio: listening on http://{_show(bound[0])}:{bound[1]}{url_path}")
            if config is not None and config.worker_socket_dir is not None:
                # The other workers relay requests for this worker's legacy sessions here (transports/http/forward).
                unix_path = os.path.join(config.worker_socket_dir, f"{config.worker_id}.sock")
                await runtime.add_listener(HttpListener(host, bound[1], url_path, config, unix_path=unix_path))
        for host, port, url_path in args.ws:
            bound = await runtime.add_listener(
                WebSocketListener(host, port, url_path, args.ws_config, reuse_port=worker)
            )
            say(f"mcp-trio: listening on ws://{_show(bound[0])}:{bound[1]}{url_path}")
        stdio = StdioListener() if args.stdio or not (args.tcp or args.unix or args.http or args.ws) else None
        if stdio is not None:
            await runtime.add_listener(stdio)
            print("mcp-trio: serving one session on stdio", file=sys.stderr, flush=True)
        shards = len(runtime.shards)
        log.info("supervision tree up: %d shards, %d listeners", shards, len(runtime.app.which_children()) - shards - 2)
        observer = Observer(runtime)
        # Everything allocated so far lives as long as the process: keep the collector off it (p99).
        gc.freeze()
        try:
            async with trio.open_nursery() as nursery:
                await nursery.start(observer.run)
                if args.admin is not None and not worker:  # with workers, the parent serves it
                    token = os.environ.get("MCP_TRIO_ADMIN_TOKEN") or None
                    admin = await nursery.start(functools.partial(serve_admin, observer, *args.admin, token=token))
                    say(f"mcp-trio: admin on http://{_show(admin[0])}:{admin[1]} (/health, /ready, /metrics)")
                observer.serving = True
                nursery.start_soon(_report_on_signal, runtime, reports)
                nursery.start_soon(_stop_on_signal, nursery.cancel_scope, runtime, stops)
                if not worker:  # a worker is replaced on its parent's SIGHUP instead (and ignores its own)
                    nursery.start_soon(_reload_on_signal, runtime, server, args, reloads)
                if worker:
                    bus_fd = os.environ.get(WORKER_BUS_ENV)
                    bus = WorkerBus(args.worker_channel, int(bus_fd) if bus_fd and bus_fd.isdigit() else None)
                    server.hub.bus = bus  # this worker's notifications reach the other workers' subscribers
                    statistics = observer.summary
                    nursery.start_soon(bus.run, 1.0, statistics, server.hub.deliver, nursery.cancel_scope)
                if stdio is not None:
                    await stdio.finished.wait()  # the client closed stdin: the process is done
                else:
                    await trio.sleep_forever()
                nursery.cancel_scope.cancel()
        finally:
            _exit_if_stuck(2 * runtime.config.shutdown_timeout + 2.0)


def _worker_http_config(index: int, base: HttpConfig | None) -> HttpConfig | None:
    """The HTTP config of a worker's ``index``-th endpoint: its session ids name it, and it knows where the other
    workers' endpoints listen (set by the parent in the environment: ``mcp_trio.workers``)."""
    worker_id = os.environ.get(WORKER_ID_ENV)
    directory = os.environ.get(WORKER_DIR_ENV)
    if worker_id is None or directory is None:
        return None
    socket_dir = os.path.join(directory, str(index))
    os.makedirs(socket_dir, exist_ok=True)
    config = base or HttpConfig()
    # The workers share their sessions' state on disk: a replaced worker's legacy sessions carry on.
    store = config.session_store or DirectorySessionStore(
        os.path.join(directory, f"sessions-{index}"), ttl=config.session_idle_timeout
    )
    return attrs.evolve(config, worker_id=worker_id, worker_socket_dir=socket_dir, session_store=store)


class JsonLogFormatter(logging.Formatter):
    """One JSON object per record: ``time`` (ISO 8601, UTC), ``level``, ``logger``, ``message``, ``pid`` and
    ``traceback`` when the record carries an exception."""

    def format(self, record: logging.LogRecord) -> str:
        import datetime
        import json

        document: dict[str, Any] = {
            "time": datetime.datetime.fromtimestamp(record.created, datetime.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,
        }
        if record.exc_info:
            document["traceback"] = self.formatException(record.exc_info)
        return json.dumps(document)


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _quiet(line: str) -> None:
    log.debug("%s", line)


async def _serve_workers(args: argparse.Namespace) -> None:
    """The parent of ``--workers N``: reserve the ports, run and supervise the workers (``mcp_trio.workers``)."""
    tcp, held = await reserve_ports(args.tcp)
    http, held_http = await reserve_ports([(host, port) for host, port, _ in args.http])
    held += held_http
    ws, held_ws = await reserve_ports([(host, port) for host, port, _ in args.ws])
    held += held_ws
    argv = [sys.executable, "-m", "mcp_trio", "serve"]
    if args.target is not None:
        argv.append(args.target)
    announce = []
    for host, port in tcp:
        argv += ["--tcp", f"{_show(host)}:{port}"]
        announce.append(f"mcp-trio: listening on tcp://{_show(host)}:{port}")
    for (host, port), (_, _, url_path) in zip(http, args.http, strict=True):
        argv += ["--http", f"{_show(host)}:{port}{url_path}"]
        announce.append(f"mcp-trio: listening on http://{_show(host)}:{port}{url_path}")
    for (host, port), (_, _, url_path) in zip(ws, args.ws, strict=True):
        argv += ["--ws", f"{_show(host)}:{port}{url_path}"]
        announce.append(f"mcp-trio: listening on ws://{_show(host)}:{port}{url_path}")
    argv += ["--log-level", args.log_level, "--log-format", args.log_format, "--workers", "1"]
    if args.config is not None:
        argv += ["--config", args.config]  # the rest of the file ([server], [runtime], [http]...) for each worker
    try:
        await serve_workers(argv, WorkerSettings(args.workers), announce, args.admin)
    finally:
        for sock in held:
            sock.close()


def _check_capacity(args: argparse.Namespace, server: Server, daemon: DaemonConfig) -> None:
    """Start-up: raise the open-file limit to the hard limit, then compare ``[serve] connections`` (if set) with
    the capacity (``mcp_trio.workers.connection_capacity``); print it, or exit 2 naming the workers needed."""
    raise_file_limit()
    file_limit = descriptor_limit()  # the soft limit now (an unlimited one counts as 2**20, as admission does)
    runtime = attrs.evolve(server.config.runtime, **_set_in(daemon, "runtime"))  # as _configure makes it
    capacity = connection_capacity(args.workers, file_limit, runtime)
    if args.connections is None:
        return
    problem = capacity.shortfall(args.connections)
    if problem is not None:
        print(f"mcp-trio: error: {problem}", file=sys.stderr)
        sys.exit(2)
    _say(
        f"mcp-trio: capacity {capacity.workers} x {capacity.per_worker:,} = {capacity.total:,} connections "
        f"(target {args.connections:,})"
    )


def _health(url: str, *, as_json: bool) -> int:
    """``mcp-trio health``: 0 when the server answers 200 (healthy), 1 when it answers otherwise, 2 if unreachable."""
    import json
    import urllib.error
    import urllib.request

    token = os.environ.get("MCP_TRIO_ADMIN_TOKEN")
    request = urllib.request.Request(url, headers={"authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status, body = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, body = error.code, error.read()
    except (OSError, ValueError) as error:
        print(f"mcp-trio: error: cannot read {url}: {error}", file=sys.stderr)
        return 2
    try:
        document = json.loads(body)
    except ValueError:
        print(f"mcp-trio: error: {url} answered {status} without a health document", file=sys.stderr)
        return 2
    if as_json:
        print(json.dumps(document, indent=2))
    elif not isinstance(document, dict):
        print(f"mcp-trio: error: {url} answered {status} with JSON that is not a health document", file=sys.stderr)
        return 2
    else:
        from rich.console import Console

        from mcp_trio.observability.health_table import render_health

        Console().print(render_health(document))  # colours on a terminal, plain text in a pipe
    return 0 if status == 200 else 1


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


async def _stop_on_signal(scope: trio.CancelScope, runtime: Runtime, signals: AsyncIterator[int]) -> None:
    """SIGINT or SIGTERM drains, then stops the server in order (the tree stops listeners first, then
    connections); a second signal stops it at once.

    Draining (``Runtime.drain``): stop accepting, refuse new requests with -32000 ``draining``, and let the
    requests in flight finish within ``RuntimeConfig.drain_timeout``. A signal receiver rather than Trio's
    ``KeyboardInterrupt``: that is raised in whatever task runs when the signal lands, which may be a handler,
    so the shutdown would start from a random place.
    """
    async for received in signals:
        name, in_flight = signal.Signals(received).name, runtime.admission.in_flight
        log.info("stopping (%s): draining %d requests in flight", name, in_flight)
        async with trio.open_nursery() as nursery:

            async def second_signal() -> None:
                async for again in signals:
                    log.warning("stopping now (%s during the drain)", signal.Signals(again).name)
                    nursery.cancel_scope.cancel()
                    return

            nursery.start_soon(second_signal)
            finished = await runtime.drain(runtime.config.drain_timeout)
            if not finished:
                log.warning("drain deadline passed with %d requests in flight", runtime.admission.in_flight)
            nursery.cancel_scope.cancel()
        scope.cancel()
        return


async def _reload_on_signal(
    runtime: Runtime, server: Server, args: argparse.Namespace, signals: AsyncIterator[int]
) -> None:
    """SIGHUP: read the configuration again (file and environment) and adopt what can change live.

    ``[runtime]`` limits in ``Admission.LIVE_KEYS`` change at once; ``[server]`` limits apply to connections and
    sessions opened from now on; everything else (shards, transports, ``[http]``, ``[websocket]``, ``[serve]``)
    is logged as needing a restart. A configuration that is now invalid is refused whole, and the server keeps
    the one it has.
    """
    async for _ in signals:
        try:
            fresh = load_config(args.config, os.environ, args.flags)
        except ConfigError as error:
            log.error("configuration not reloaded: %s", error)
            continue
        old: DaemonConfig = args.daemon
        live, later = runtime.reconfigure(attrs.evolve(runtime.config, **_set_in(fresh, "runtime")))
        server_values = _set_in(fresh, "server")
        changed_server = [key for key, value in server_values.items() if getattr(server.config, key) != value]
        if changed_server:
            server.config = attrs.evolve(server.config, **{key: server_values[key] for key in changed_server})
        restart = [f"runtime.{key}" for key in later]
        restart += [f"[{name}]" for name in ("serve", "http", "websocket") if fresh.section(name) != old.section(name)]
        args.daemon = fresh
        log.info(
            "configuration reloaded: live now %s; for new connections %s; after a restart only %s",
            ", ".join(f"runtime.{key}" for key in live) or "nothing",
            ", ".join(f"server.{key}" for key in changed_server) or "nothing",
            ", ".join(restart) or "nothing",
        )


def _set_in(daemon: DaemonConfig, section: str) -> dict[str, Any]:
    """The values of ``section`` the file, the environment or the flags set (defaults left out)."""
    instance = daemon.section(section)
    prefix = section + "."
    return {
        key[len(prefix) :]: getattr(instance, key[len(prefix) :]) for key in daemon.sources if key.startswith(prefix)
    }


async def _report_on_signal(runtime: Runtime, signals: AsyncIterator[int]) -> None:
    """``kill -USR1 <pid>`` prints the live supervision tree and per-shard counts on stderr."""
    async for _ in signals:
        print(runtime.report(), file=sys.stderr, flush=True)


def _show(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def main(argv: Sequence[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "config":
        sys.exit(_config_command(args))
    if args.command == "soak":
        sys.exit(_soak_command(args))
    daemon: DaemonConfig | None = None
    if args.command == "serve":
        args.flags = _flags(args)
        try:
            daemon = load_config(args.config, os.environ, args.flags)
        except ConfigError as error:
            print(f"mcp-trio: error: {error}", file=sys.stderr)
            sys.exit(2)
        _adopt(args, daemon.serve)
        args.daemon = daemon
    level = getattr(args, "log_level", None) or "warning"
    handler = logging.StreamHandler(sys.stderr)  # never stdout: it is an MCP transport under --stdio
    if getattr(args, "log_format", None) == "json":
        handler.setFormatter(JsonLogFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level.upper(), handlers=[handler])
    if args.command == "health":
        sys.exit(_health(args.url, as_json=args.json))
    assert daemon is not None
    if args.workers > 1 and args.worker_channel is None:
        if args.stdio or args.unix or not (args.tcp or args.http or args.ws):
            parser.error("--workers N (N > 1) serves --tcp and --http only: stdio and Unix sockets are one process's")
        try:
            served = load_server(args.target)  # a bad target is reported here once, not by every worker
        except CliError as exc:
            parser.error(str(exc))
        _check_capacity(args, served, daemon)
        try:
            trio.run(_serve_workers, args)
        except* KeyboardInterrupt:
            pass
        except* SupervisorEscalation as group:
            print(f"mcp-trio: error: workers keep failing; stopped: {group.exceptions[0]}", file=sys.stderr)
            sys.exit(1)
        except* OSError as group:
            print(f"mcp-trio: error: {group.exceptions[0]}", file=sys.stderr)
            sys.exit(1)
        return
    try:
        server = load_server(args.target)
    except CliError as exc:
        parser.error(str(exc))
    _configure(server, daemon)
    if args.worker_channel is None:  # a worker's parent checked the capacity of them all
        _check_capacity(args, server, daemon)
    shared_key = os.environ.get(REQUEST_STATE_KEY_ENV) if args.worker_channel is not None else None
    if shared_key:
        server.set_request_state_key(bytes.fromhex(shared_key))  # the parent's, shared by every worker
    args.http_config, args.ws_config = daemon.http, daemon.websocket
    try:
        trio.run(_serve, server, args)
    except* KeyboardInterrupt:
        pass
    except* OSError as group:
        # e.g. the address is in use: a clear line, not a traceback
        print(f"mcp-trio: error: {group.exceptions[0]}", file=sys.stderr)
        sys.exit(1)


def _soak_command(args: argparse.Namespace) -> int:
    """``mcp-trio soak``: 0 when every gate holds and every call got exactly one answer, 1 otherwise, 2 on bad
    arguments."""
    import json
    from pathlib import Path

    from soak import SCENARIOS, compare_reports, parse_sla, run_soak
    from soak.html_report import render_html
    from soak.png import MatplotlibMissing, require_matplotlib, write_pngs
    from soak.progress import make_progress
    from soak.runner import normalise_admin

    if args.scenario == "compare":
        try:
            documents = []
            for path in args.reports:
                with open(path, encoding="utf-8") as handle:
                    documents.append((path, json.load(handle)))
        except (OSError, ValueError) as error:
            print(f"mcp-trio: error: cannot read a report: {error}", file=sys.stderr)
            return 2
        if len(documents) < 2:
            print("mcp-trio: error: soak compare needs two or more JSON reports", file=sys.stderr)
            return 2
        print(compare_reports(documents))
        return 0
    try:
        gates = parse_sla(args.sla)
        admin = normalise_admin(args.admin) if args.admin is not None else None
        if admin is not None and args.target is None:
            raise ValueError("--admin is for a --target that is an mcp-trio server (ours, started here, has one)")
        for flag, path in (("--report", args.report), ("--html", args.html)):
            if path is not None and (os.path.isdir(path) or not os.path.isdir(os.path.dirname(path) or ".")):
                raise ValueError(f"{flag} {path}: not a file in an existing directory")
        if args.png is not None:
            if os.path.exists(args.png) and not os.path.isdir(args.png):
                raise ValueError(f"--png {args.png}: not a directory")
            require_matplotlib()  # before the run, not after it
        scenario = SCENARIOS[args.scenario].with_overrides(
            sessions=args.sessions,
            rate=args.rate,
            duration=args.duration,
            ramp=args.ramp,
            depth=args.depth,
            warmup=args.warmup,
            cooldown=args.cooldown,
            bomb_rate=args.bomb_rate,
        )
        if scenario.bomb_rate < 0 or scenario.depth < 1:
            raise ValueError("--bomb-rate must not be negative, and --depth must be at least 1")
        if scenario.sessions < 1 or scenario.duration <= 0 or (scenario.name != "idle" and scenario.rate <= 0):
            raise ValueError("sessions, duration and (except for idle) rate must be positive")
        report = trio.run(
            functools.partial(
                run_soak,
                scenario,
                target=args.target,
                target_pids=args.target_pid,
                processes=args.processes,
                workers=args.workers,
                era=args.era,
                sla=gates,
                allow_remote=args.allow_remote,
                admin=admin,
                source_addresses=args.source_addresses,
                engine=args.engine,
                progress=make_progress(args.progress, _say),
                emit=_say,
            )
        )
    except (ValueError, MatplotlibMissing) as error:
        print(f"mcp-trio: error: {error}", file=sys.stderr)
        return 2
    totals = report.totals
    print(
        f"soak {scenario.name}: {totals['sent']:,} calls, {totals['ok']:,} ok, {totals['refused']:,} refused, "
        f"{totals['failed']:,} failed, {totals['late_sends']:,} late sends; p50 {totals['p50_ms']} ms, "
        f"p95 {totals['p95_ms']} ms, p99 {totals['p99_ms']} ms; every call answered once: "
        f"{totals['exactly_one_answer']}"
        + (
            f"; server back to its baseline: {totals['returned_to_baseline']}"
            if "returned_to_baseline" in totals
            else ""
        )
    )
    if totals.get("session_errors") or totals.get("generators_failed"):
        kinds = ", ".join(f"{kind} {count:,}" for kind, count in totals["session_errors"].items()) or "-"
        print(f"  sessions that failed: {kinds}; generator processes that died: {totals['generators_failed']}")
    bomb = totals.get("bomb")
    if bomb is not None:
        ratio = bomb["goodput_of_peak"]
        growth = bomb["rss_growth"]
        recovery = bomb["recovery_seconds"]
        print(
            f"  bombing: offered {bomb['offered_per_second']:,.0f}/s, answered ok {bomb['goodput_per_second']:,.0f}/s"
            f" ({'-' if ratio is None else f'{ratio:.0%}'} of the best second, {bomb['peak_per_second']:,}/s), "
            f"refused {bomb['refused_per_second']:,.0f}/s; accepted p50 {bomb['accepted_p50_ms']} ms, p99 "
            f"{bomb['accepted_p99_ms']} ms (from the actual send: p50 {bomb.get('accepted_service_p50_ms')} ms, p99 "
            f"{bomb.get('accepted_service_p99_ms')} ms); server RSS {'-' if growth is None else f'{growth:+.1%}'} over "
            f"pre-bombing; latency back to warm-up's (p99 {bomb['warmup_p99_ms']} ms) after "
            f"{'never' if recovery is None else f'{recovery:g} s'}"
        )
    for gate in report.gates:
        print(f"  SLA {gate['gate']}: {gate['value']:.4g} {'ok' if gate['ok'] else 'BREACHED'}")
    document = report.as_dict()
    if args.report is not None:
        with open(args.report, "w", encoding="utf-8") as handle:
            json.dump(document, handle, indent=2)
    if args.html is not None:
        with open(args.html, "w", encoding="utf-8") as handle:
            handle.write(render_html(document))
        _say(f"soak: HTML report in {args.html}")
    if args.png is not None:
        written = write_pngs(document, Path(args.png))
        _say(f"soak: {len(written)} PNG charts in {args.png}")
    return 0 if report.passed else 1


def _config_command(args: argparse.Namespace) -> int:
    """``mcp-trio config show|check``: 0, or 2 with the problem on stderr."""
    file = args.config if args.action == "show" else args.file
    try:
        daemon = load_config(file, os.environ)
    except ConfigError as error:
        print(f"mcp-trio: error: {error}", file=sys.stderr)
        return 2
    if args.action == "show":
        print(daemon.show())
    else:
        print(f"{file}: valid ({len(daemon.sources)} values set)")
    return 0


def _flags(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """The ``[serve]`` values the command line gave (they win over the file and the environment)."""
    given: dict[str, Any] = {}
    if args.target is not None:
        given["target"] = args.target
    for name in ("tcp", "http", "ws"):
        values = getattr(args, name)
        if values:
            given[name] = [f"{_show(value[0])}:{value[1]}{value[2] if len(value) > 2 else ''}" for value in values]
    if args.unix:
        given["unix"] = list(args.unix)
    if args.stdio:
        given["stdio"] = True
    if args.workers is not None:
        given["workers"] = args.workers
    if args.connections is not None:
        given["connections"] = args.connections
    if args.admin is not None:
        given["admin"] = f"{_show(args.admin[0])}:{args.admin[1]}"
    if args.log_level is not None:
        given["log_level"] = args.log_level
    if args.log_format is not None:
        given["log_format"] = args.log_format
    return {"serve": given}


def _adopt(args: argparse.Namespace, serve: ServeSettings) -> None:
    """Put the effective ``[serve]`` values back into ``args`` in the parsed forms the rest of the CLI uses."""
    try:
        args.tcp = [_tcp_address(value) for value in serve.tcp]
        args.http = [_http_address(value) for value in serve.http]
        args.ws = [_http_address(value) for value in serve.ws]
        args.admin = _tcp_address(serve.admin) if serve.admin is not None else None
    except argparse.ArgumentTypeError as error:
        print(f"mcp-trio: error: [serve] {error}", file=sys.stderr)
        sys.exit(2)
    args.unix = list(serve.unix)
    args.stdio = serve.stdio
    args.workers = serve.workers
    args.connections = serve.connections
    args.log_level = serve.log_level
    args.log_format = serve.log_format
    args.target = serve.target


def _configure(server: Server, daemon: DaemonConfig) -> None:
    """Apply the ``[server]`` and ``[runtime]`` values that were set (file, environment) over the server's own
    config, so a value the server's code chose stays unless the operator overrides it."""
    server_values = _set_in(daemon, "server")
    runtime_values = _set_in(daemon, "runtime")
    if not server_values and not runtime_values:
        return
    runtime = attrs.evolve(server.config.runtime, **runtime_values)
    server.config = attrs.evolve(server.config, **server_values, runtime=runtime)
