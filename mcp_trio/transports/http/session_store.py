"""Where legacy sessions' state is kept so that a process that does not hold a session can carry it on.

Theory of operation
-------------------
A legacy (2025-x) HTTP session is negotiated once (``initialize``) and then lives in the process that minted
it. What another process needs to take it over is small and changes rarely: the negotiated version and
capabilities, the client's identity, its log level and resource subscriptions (``HttpSession.export``). The
legacy endpoint saves that state when it changes (the handshake, ``resources/(un)subscribe``,
``logging/setLevel``) and, given a session id it does not hold, loads it from the store and adopts the session
(``LegacyEndpoint.adopt``) instead of answering 404. Streams and requests in flight are not state: they stay
where they started (resumable SSE events are the ``EventStore``'s job).

* ``InMemorySessionStore``: one process; bounded in count, entries expire ``ttl`` seconds after their last save.
* ``DirectorySessionStore``: one file per session in a directory; what the workers of one box share
  (``mcp-trio serve --workers``), so a replaced worker's sessions carry on in its successor.

The interface is small and async so that a multi-node deployment can plug in a network store (Redis, say).
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import time
from collections import OrderedDict
from typing import Final, Protocol

import trio

__all__ = ["SessionStore", "InMemorySessionStore", "DirectorySessionStore"]

#: Session ids we mint: ``[<worker>.]<token_urlsafe>``; anything else is never a file name.
_SESSION_ID: Final = re.compile(r"[A-Za-z0-9_\-]{1,64}(\.[A-Za-z0-9_\-]{1,64})?")


class SessionStore(Protocol):
    """Legacy sessions' negotiated state, by session id (``HttpConfig.session_store``)."""

    async def save(self, session_id: str, state: bytes) -> None:
        """Keep (or replace) a session's state."""

    async def load(self, session_id: str) -> bytes | None:
        """A session's state, or ``None`` when it is not kept (never saved, deleted, or expired)."""

    async def delete(self, session_id: str) -> None:
        """Forget a session (it was deleted or expired)."""


class InMemorySessionStore:
    """A bounded in-process ``SessionStore``: at most ``max_sessions`` entries (the least recently saved go
    first), each for ``ttl`` seconds after its last save (Trio's clock)."""

    __slots__ = ("_entries", "_max", "_ttl")

    def __init__(self, max_sessions: int = 100_000, ttl: float = 30 * 60.0) -> None:
        if max_sessions < 1 or not ttl > 0:
            raise ValueError("max_sessions and ttl must be positive")
        self._entries: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._max = max_sessions
        self._ttl = ttl

    def __len__(self) -> int:
        return len(self._entries)

    async def save(self, session_id: str, state: bytes) -> None:
        self._entries.pop(session_id, None)
        self._entries[session_id] = (trio.current_time() + self._ttl, state)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)
        await trio.lowlevel.checkpoint()

    async def load(self, session_id: str) -> bytes | None:
        await trio.lowlevel.checkpoint()
        entry = self._entries.get(session_id)
        if entry is None:
            return None
        if entry[0] <= trio.current_time():
            del self._entries[session_id]
            return None
        return entry[1]

    async def delete(self, session_id: str) -> None:
        self._entries.pop(session_id, None)
        await trio.lowlevel.checkpoint()


class DirectorySessionStore:
    """A ``SessionStore`` of one file per session in ``directory`` (shared by processes on one box).

    Files are written whole and renamed into place, so a reader never sees half a state; an entry older than
    ``ttl`` seconds (by the file's modification time) is expired on load. File work runs in a worker thread.
    Session ids that are not ones we mint are refused as file names (``load`` finds nothing for them).
    """

    __slots__ = ("_directory", "_ttl")

    def __init__(self, directory: str, ttl: float = 30 * 60.0) -> None:
        if not ttl > 0:
            raise ValueError("ttl must be positive")
        os.makedirs(directory, exist_ok=True)
        self._directory = directory
        self._ttl = ttl

    def _path(self, session_id: str) -> str | None:
        return os.path.join(self._directory, session_id) if _SESSION_ID.fullmatch(session_id) else None

    async def save(self, session_id: str, state: bytes) -> None:
        path = self._path(session_id)
        if path is None:
            await trio.lowlevel.checkpoint()
            return
        await trio.to_thread.run_sync(self._write, path, state)

    def _write(self, path: str, state: bytes) -> None:
        handle, temporary = tempfile.mkstemp(dir=self._directory, prefix=".")
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(state)
            os.replace(temporary, path)
        except BaseException:
            os.unlink(temporary)
            raise

    async def load(self, session_id: str) -> bytes | None:
        path = self._path(session_id)
        if path is None:
            await trio.lowlevel.checkpoint()
            return None
        return await trio.to_thread.run_sync(self._read, path)

    def _read(self, path: str) -> bytes | None:
        try:
            with open(path, "rb") as file:
                # File times are wall-clock times (processes share them; Trio's clock is per run).
                if os.fstat(file.fileno()).st_mtime + self._ttl <= time.time():
                    os.unlink(path)
                    return None
                return file.read()
        except FileNotFoundError:
            return None

    async def delete(self, session_id: str) -> None:
        path = self._path(session_id)
        if path is None:
            await trio.lowlevel.checkpoint()
            return
        await trio.to_thread.run_sync(_unlink_quietly, path)


def _unlink_quietly(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
