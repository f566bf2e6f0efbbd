"""100,000 idle TCP sessions on one box: ``mcp-trio serve --workers W`` against G load-generator processes.

``python -m benchmarks.workers_scale [SESSIONS] [IDLE_SECONDS]`` (defaults 100,000 and 60): the server is the
real CLI with W = 6 workers (each process may hold 20,000 files); G = 6 generator processes each open
SESSIONS / G sessions from four loopback source addresses of their own (127.0.2.1-4, 127.0.3.1-4, ...:
ephemeral ports are per source address), each session doing ``initialize`` + ``notifications/initialized`` + one
``ping``. Then everything idles for IDLE_SECONDS, and every session must answer a second ``ping``.

Figures (issue 19's goals beside them): sessions established per second (>= 5,000, ``initialize`` included),
server memory per session (the workers' summed VmRSS minus their summed zero-session VmRSS, divided by the
sessions: <= 6 KB), and how many sessions still answer after the idle period (all).
"""

from __future__ import annotations

import selectors
import socket
import sys
import time
from typing import Final

from benchmarks._procs import Children, raise_fd_limit, say, stderr_tail
from benchmarks._workers import bound_socket, source_addresses, start_generators, start_serve

__all__ = ["main"]

SESSIONS: Final = 100_000
IDLE: Final = 60.0
WORKERS: Final = 6
GENERATORS: Final = 6
BATCH: Final = 250
GOAL_RATE: Final = 5_000
GOAL_BYTES: Final = 6 * 1024
_HANDSHAKE: Final = (
    b'{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25",'
    b'"capabilities":{},"clientInfo":{"name":"idle","version":"1"}}}\n'
    b'{"jsonrpc":"2.0","method":"notifications/initialized"}\n'
    b'{"jsonrpc":"2.0","id":1,"method":"ping"}\n'
)
_PING: Final = b'{"jsonrpc":"2.0","id":2,"method":"ping"}\n'
LAST_REFUSAL = b""  # what the server said when it refused a session (a generator reports it)


def _exchange(socks: list[socket.socket], payload: bytes | None, answers: int, deadline: float) -> int:
    """Send ``payload`` on every socket (unless None) and wait for ``answers`` lines from each; how many did."""
    waiting = dict.fromkeys(socks, 0)
    done = 0
    global LAST_REFUSAL
    with selectors.DefaultSelector() as selector:
        for sock in socks:
            if payload is not None:
                sock.sendall(payload)
            selector.register(sock, selectors.EVENT_READ)
        while waiting and time.monotonic() < deadline:
            for key, _ in selector.select(max(0.0, deadline - time.monotonic())):
                sock = key.fileobj  # type: ignore[assignment]
                try:
                    data = sock.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    del waiting[sock]
                    selector.unregister(sock)
                    continue
                if b'"error"' in data:
                    LAST_REFUSAL = data[:300]
                waiting[sock] += data.count(b"\n")
                if waiting[sock] >= answers:
                    del waiting[sock]
                    selector.unregister(sock)
                    done += 1
    return done


def generate(port: int, count: int, source: str) -> None:
    """A generator process: open ``count`` sessions from ``source``, report, then ping them all on request."""
    raise_fd_limit(count + 100)
    sources = source_addresses(source)
    socks: list[socket.socket] = []
    started = time.monotonic()
    deadline = started + 300
    while len(socks) < count:
        batch = []
        for number in range(min(BATCH, count - len(socks))):
            sock = bound_socket(sources[number % len(sources)])
            sock.settimeout(30)
            sock.connect(("127.0.0.1", port))
            batch.append(sock)
        for sock in batch:
            sock.setblocking(True)
        answered = _exchange(batch, _HANDSHAKE, 2, deadline)
        if answered != len(batch):
            print(f"failed {len(socks) + answered} of {count}: {LAST_REFUSAL.decode(errors='replace')}", flush=True)
            return
        for sock in batch:
            sock.setblocking(False)
        socks.extend(batch)
    print(f"opened {len(socks)} {time.monotonic() - started:.3f}", flush=True)
    sys.stdin.readline()  # the coordinator says when the idle period is over
    for sock in socks:
        sock.setblocking(True)
    answered = _exchange(socks, _PING, 1, time.monotonic() + 120)
    print(f"answered {answered}", flush=True)
    sys.stdin.readline()


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--generate":
        generate(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
        return
    sessions = int(sys.argv[1]) if len(sys.argv) > 1 else SESSIONS
    idle = float(sys.argv[2]) if len(sys.argv) > 2 else IDLE
    raise_fd_limit(20_000)
    per_generator = sessions // GENERATORS
    sessions = per_generator * GENERATORS
    print(
        f"{sessions:,} idle TCP sessions: mcp-trio serve --workers {WORKERS}, {GENERATORS} generator processes "
        f"(four loopback source addresses each), {idle:g} s idle"
    )
    with Children() as children:
        server = start_serve(children, WORKERS, ["tcp"])
        time.sleep(1)
        zero = server.rss()
        port = server.ports["tcp"]
        generators = start_generators(children, "benchmarks.workers_scale", GENERATORS, port, per_generator, 2)
        started = time.monotonic()
        opened = 0
        slowest = 0.0
        for generator in generators:
            assert generator.stdout is not None
            words = generator.stdout.readline().split()
            if not words or words[0] != b"opened":
                print(f"  a generator failed: {b' '.join(words).decode()} {stderr_tail(generator, 500)}")
                return
            opened += int(words[1])
            slowest = max(slowest, float(words[2]))
        took = time.monotonic() - started
        time.sleep(2)
        loaded = server.rss()
        per_session = (loaded - zero) / opened
        rate = opened / slowest
        print(
            f"  established {opened:,} sessions in {took:.1f} s ({rate:,.0f}/s, goal >= {GOAL_RATE:,}: "
            f"{'met' if rate >= GOAL_RATE else 'NOT met'})"
        )
        print(
            f"  server memory: {zero / 2**20:.0f} MiB with no sessions -> {loaded / 2**20:.0f} MiB: "
            f"{per_session:,.0f} bytes per session (goal <= {GOAL_BYTES:,}: "
            f"{'met' if per_session <= GOAL_BYTES else 'NOT met'})"
        )
        time.sleep(idle)
        answered = 0
        say(generators, b"go\n")
        for generator in generators:
            assert generator.stdout is not None
            words = generator.stdout.readline().split()
            answered += int(words[1]) if len(words) == 2 else 0
        print(
            f"  after {idle:g} s idle, {answered:,} of {opened:,} sessions answered a ping "
            f"({'met' if answered == opened else 'NOT met'})"
        )
        say(generators, b"done\n")


if __name__ == "__main__":
    main()
