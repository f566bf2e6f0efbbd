"""The one client that drives every porting server, whichever import it was started with.

Each server in ``servers/`` runs as a subprocess over stdio (``python servers/NAME.py``, the server calling
``mcp.run()``), with ``PORTING_TARGET=sdk`` (the official SDK's ``MCPServer``) or ``PORTING_TARGET=trio``
(mcp-trio's ``Server``, the same file with its import changed). Our client (``mcp_trio.open_client`` on the
process's pipes) drives a fixed scenario per server on the 2025-11-25 wire, the era both servers speak fully
(on 2026-07-28 the SDK's ``ctx.elicit`` has no back channel).

What is compared is the wire, not the client's decoded view: a tap on the pipes records every message the
server sent during each step (its result or error, and the log, progress and elicitation messages before it).

Run one by hand to see a transcript: ``python tests/porting/porting_client.py weather sdk``.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import trio

from mcp_trio import ClientConfig, RemoteError, open_client
from mcp_trio.client.client import Client
from mcp_trio.protocol.types import ElicitRequestParams, ElicitResult

SERVERS = Path(__file__).parent / "servers"
ROOT = Path(__file__).parents[2]

#: One step's record: the messages the server sent while it ran, as parsed JSON.
Transcript = dict[str, list[Any]]


class Tap(trio.abc.Stream):
    """A stdio pipe pair that records each complete JSON line the server writes."""

    def __init__(self, process: trio.Process) -> None:
        assert process.stdin is not None
        assert process.stdout is not None
        self._stream = trio.StapledStream(process.stdin, process.stdout)
        self._partial = b""
        self.received: list[Any] = []

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        await self._stream.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self._stream.wait_send_all_might_not_block()

    async def send_eof(self) -> None:
        await self._stream.send_eof()

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        data = await self._stream.receive_some(max_bytes)
        *lines, self._partial = (self._partial + bytes(data)).split(b"\n")
        self.received.extend(json.loads(line) for line in lines if line.strip())
        return data

    async def aclose(self) -> None:
        await self._stream.aclose()


class Session:
    """A scenario's view: run steps against the server and keep what it sent during each."""

    def __init__(self, client: Client, tap: Tap) -> None:
        self.client = client
        self.tap = tap
        self.transcript: Transcript = {"initialize": list(tap.received)}
        self.elicitation_answers: list[ElicitResult] = []
        self.progress: list[tuple[float, float | None, str | None]] = []

    async def step(self, label: str, call: Callable[[], Awaitable[Any]]) -> None:
        assert label not in self.transcript, label
        start = len(self.tap.received)
        with contextlib.suppress(RemoteError):  # the error response is in the transcript
            await call()
        self.transcript[label] = self.tap.received[start:]

    def on_progress(self, progress: float, total: float | None, message: str | None) -> None:
        self.progress.append((progress, total, message))

    async def answer(self, params: ElicitRequestParams) -> ElicitResult:
        return self.elicitation_answers.pop(0)


async def weather(s: Session) -> None:
    c = s.client
    await s.step("tools/list", c.list_tools)
    oslo = {"location": {"city": "Oslo"}}
    await s.step("model in, model out", lambda: c.call_tool("get_weather", oslo))
    await s.step(
        "model, all fields", lambda: c.call_tool("get_weather", {"location": {"city": "Bergen", "country": "NO"}})
    )
    await s.step("annotated, default", lambda: c.call_tool("forecast", {"city": "Oslo"}))
    await s.step("annotated, given", lambda: c.call_tool("forecast", {"city": "Bergen", "days": 2}))
    pair = {"first": {"city": "Oslo"}, "second": {"city": "Bergen", "country": "NO"}}
    await s.step("two models, dict out", lambda: c.call_tool("compare", pair))
    await s.step("str out", lambda: c.call_tool("summary", {"city": "Oslo", "metric": False}))
    await s.step("ToolError", lambda: c.call_tool("get_weather", {"location": {"city": "Paris", "country": "FR"}}))
    await s.step("crash", lambda: c.call_tool("calibrate", {"station": "north"}))
    await s.step("invalid: above le", lambda: c.call_tool("forecast", {"city": "Oslo", "days": 8}))
    await s.step("invalid: missing", lambda: c.call_tool("forecast", {"days": 2}))
    await s.step("invalid: wrong type", lambda: c.call_tool("summary", {"city": "Oslo", "metric": "sometimes"}))
    await s.step(
        "invalid: model field", lambda: c.call_tool("get_weather", {"location": {"city": "Oslo", "country": "NOR"}})
    )
    await s.step("unknown tool", lambda: c.call_tool("tornado", {}))


async def notes(s: Session) -> None:
    c = s.client
    await s.step("resources/list", c.list_resources)
    await s.step("resources/templates/list", c.list_resource_templates)
    for uri in ("notes://index", "config://app", "config://limits", "files://logo", "greeting://Ada", "notes://2/text"):
        await s.step(f"read {uri}", lambda uri=uri: c.read_resource(uri))  # type: ignore[misc]
    await s.step("read: template, bad int", lambda: c.read_resource("notes://two/text"))
    await s.step("read: unknown", lambda: c.read_resource("notes://nowhere"))
    await s.step("ctx.read_resource", lambda: c.call_tool("greet_twice", {"name": "Bob"}))


async def recipes(s: Session) -> None:
    c = s.client
    await s.step("prompts/list", c.list_prompts)
    await s.step("prompt: str", lambda: c.get_prompt("plan_meal", {"cuisine": "nordic"}))
    await s.step("prompt: optional given", lambda: c.get_prompt("plan_meal", {"cuisine": "italian", "guests": "6"}))
    await s.step("prompt: messages", lambda: c.get_prompt("critique", {"dish": "lapskaus"}))
    await s.step("prompt: missing argument", lambda: c.get_prompt("critique", {"tone": "blunt"}))
    await s.step("prompt: unknown", lambda: c.get_prompt("dessert", {}))
    template = {"type": "ref/resource", "uri": "recipes://{cuisine}/{dish}"}
    await s.step("complete: template", lambda: c.complete(template, "cuisine", "it"))
    await s.step("complete: with context", lambda: c.complete(template, "dish", "ca", context={"cuisine": "italian"}))
    prompt = {"type": "ref/prompt", "name": "plan_meal"}
    await s.step("complete: prompt", lambda: c.complete(prompt, "cuisine", "n"))
    await s.step("complete: nothing", lambda: c.complete(prompt, "guests", "1"))


async def inventory(s: Session) -> None:
    c = s.client
    await s.step("lifespan in a tool", lambda: c.call_tool("count", {"item": "apple"}))
    items = {"items": ["apple", "pear"]}
    await s.step("logs and progress", lambda: c.call_tool("restock", items, on_progress=s.on_progress))
    await s.step("lifespan in a template", lambda: c.read_resource("stock://pear"))


async def booking(s: Session) -> None:
    c = s.client
    await s.step("tools/list", c.list_tools)
    await s.step("no elicitation", lambda: c.call_tool("book_table", _booking("2024-12-24")))
    s.elicitation_answers += [
        ElicitResult(action="accept", content={"checkAlternative": True, "alternativeDate": "2024-12-27"}),
        ElicitResult(action="accept", content={"checkAlternative": False}),
        ElicitResult(action="decline"),
        ElicitResult(action="cancel"),
        ElicitResult(action="accept", content={"alternativeDate": "2024-12-28"}),
    ]
    for label in ("accept", "accept, no", "decline", "cancel", "accept, invalid answer"):
        await s.step(f"elicit: {label}", lambda: c.call_tool("book_table", _booking("2024-12-25")))
    assert not s.elicitation_answers


def _booking(date: str) -> dict[str, Any]:
    return {"date": date, "time": "19:00", "party_size": 4}


SCENARIOS: dict[str, Callable[[Session], Awaitable[None]]] = {
    "weather": weather,
    "notes": notes,
    "recipes": recipes,
    "inventory": inventory,
    "booking": booking,
}


async def run(
    server: str, target: str, era: str = "legacy"
) -> tuple[Transcript, list[tuple[float, float | None, str | None]]]:
    """Start ``servers/<server>.py`` with ``target``'s import, run its scenario, and return what it sent.

    Raises:
        RuntimeError: the server failed (its stderr is in the message).
    """
    env = {**os.environ, "PORTING_TARGET": target, "PYTHONPATH": str(ROOT)}
    with tempfile.TemporaryFile() as stderr:
        argv = [sys.executable, str(SERVERS / f"{server}.py")]
        process = await trio.lowlevel.open_process(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, env=env, cwd=ROOT
        )
        tap = Tap(process)
        session: Session | None = None
        try:
            config = ClientConfig(era=era, request_timeout=20)  # type: ignore[arg-type]

            async def answer(params: ElicitRequestParams) -> ElicitResult:
                assert session is not None
                return await session.answer(params)

            async with open_client(tap, config=config, elicitation=answer) as client:
                session = Session(client, tap)
                await SCENARIOS[server](session)
        except Exception as error:
            stderr.seek(0)
            log = stderr.read().decode(errors="replace")
            raise RuntimeError(f"{server} ({target}) failed: {error!r}\n--- server stderr ---\n{log}") from error
        finally:
            with trio.CancelScope(shield=True):
                with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                    await process.stdin.aclose()  # type: ignore[union-attr]  # end of input: the server exits
                with trio.move_on_after(5):
                    await process.wait()
                if process.returncode is None:
                    process.kill()
                    await process.wait()
        return session.transcript, session.progress


if __name__ == "__main__":
    transcript, progress = trio.run(run, *sys.argv[1:])
    print(json.dumps({"transcript": transcript, "progress": progress}, indent=2))
