"""What the kernel knows about a listening socket and about TCP on this machine (Linux only).

* ``listen_queue(port)``: connections the kernel has completed but the server has not accepted yet (the accept
  queue), and the queue's size (the ``listen()`` backlog, capped by ``net.core.somaxconn``), read over
  ``NETLINK_SOCK_DIAG`` as ``ss -lnt`` does: cheap enough to sample every few milliseconds even with thousands of
  connections open (only listening sockets are dumped).
* ``tcp_counters()``: the machine-wide TCP counters that say a listener could not keep up (``ListenOverflows``,
  ``ListenDrops``, SYN-queue drops and cookies) and what clients did about it (``TCPSynRetrans``), from
  ``/proc/net/netstat`` and ``/proc/net/snmp``. They count every process on the machine: read them around a run
  and subtract.
"""

from __future__ import annotations

import socket
import struct
from typing import Final

__all__ = ["COUNTERS", "listen_queue", "tcp_counters"]

_NETLINK_SOCK_DIAG: Final = 4
_SOCK_DIAG_BY_FAMILY: Final = 20
_NLM_F_REQUEST: Final = 0x1
_NLM_F_DUMP: Final = 0x300
_NLMSG_ERROR: Final = 2
_NLMSG_DONE: Final = 3
_TCP_LISTEN: Final = 10
_HEADER: Final = struct.Struct("=IHHII")  # nlmsghdr: len, type, flags, seq, pid
_REQUEST: Final = struct.Struct("=BBBBI48s")  # inet_diag_req_v2: family, protocol, ext, pad, states, sockid
_MESSAGE: Final = struct.Struct("=BBBB48sIIIII")  # inet_diag_msg: ..., sockid, expires, rqueue, wqueue, uid, inode

#: The counters ``tcp_counters`` returns (TcpExt ones from /proc/net/netstat, plus Tcp's RetransSegs).
COUNTERS: Final = (
    "ListenOverflows",
    "ListenDrops",
    "TCPReqQFullDrop",
    "TCPReqQFullDoCookies",
    "SyncookiesSent",
    "TCPSynRetrans",
    "TCPTimeouts",
    "RetransSegs",
)


def listen_queue(port: int, family: int = socket.AF_INET) -> tuple[int, int] | None:
    """(connections waiting in the accept queue, backlog) of the TCP listener on ``port``; ``None`` if none."""
    with socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, _NETLINK_SOCK_DIAG) as sock:
        body = _REQUEST.pack(family, socket.IPPROTO_TCP, 0, 0, 1 << _TCP_LISTEN, b"\0" * 48)
        sock.send(
            _HEADER.pack(_HEADER.size + len(body), _SOCK_DIAG_BY_FAMILY, _NLM_F_REQUEST | _NLM_F_DUMP, 1, 0) + body
        )
        found: tuple[int, int] | None = None
        while True:
            data = sock.recv(65536)
            offset = 0
            while offset + _HEADER.size <= len(data):
                length, kind, _, _, _ = _HEADER.unpack_from(data, offset)
                if kind == _NLMSG_DONE:
                    return found
                if kind == _NLMSG_ERROR:
                    raise OSError("sock_diag answered with an error")
                fields = _MESSAGE.unpack_from(data, offset + _HEADER.size)
                sport = struct.unpack_from("!H", fields[4])[0]
                if sport == port and found is None:
                    found = (fields[6], fields[7])  # for a listener: rqueue = accept queue, wqueue = backlog
                offset += (length + 3) & ~3
            if not data:
                return found


def _table(path: str) -> dict[str, int]:
    values: dict[str, int] = {}
    with open(path) as f:
        lines = f.read().splitlines()
    for names, numbers in zip(lines[::2], lines[1::2], strict=False):
        keys, vals = names.split()[1:], numbers.split()[1:]
        for key, value in zip(keys, vals, strict=False):
            values.setdefault(key, int(value))
    return values


def tcp_counters() -> dict[str, int]:
    """The ``COUNTERS`` now (machine-wide, cumulative since boot)."""
    values = _table("/proc/net/netstat") | _table("/proc/net/snmp")
    return {name: values.get(name, 0) for name in COUNTERS}
