"""Limits and defaults of the supervised runtime, with units. No limit of the tree lives anywhere else."""

from __future__ import annotations

import attrs

__all__ = ["RuntimeConfig"]


@attrs.frozen
class RuntimeConfig:
    """Tunables of the supervision tree a server runs under.

    Attributes:
        shards: connection shards. Each is a supervisor of its connections and of their requests; a connection
            lives in shard ``id % shards`` and a legacy HTTP session in ``hash(session id) % shards``. A shard
            that fails takes only its own connections down. 16, 64 and 256 all work; 16 is the default because
            each shard costs about 15-25 KB and a millisecond of start-up (three supervisors and their tasks;
            ``python -m benchmarks.shards``) and buys nothing else on one event loop: opening and closing
            connections costs the same at any count.
        shutdown_timeout: seconds children get to stop after being cancelled (connections, requests, listeners);
            a child still running then is abandoned: logged, counted, and left to end on its own.
        intensity: restarts of the application's children (shards, listeners, housekeeping) tolerated within
            ``period`` seconds before the whole tree stops (OTP's restart intensity).
        period: the intensity window, in seconds.
        accept_retry_delay: seconds an accept loop waits after the process ran out of file descriptors or
            memory (``EMFILE``, ``ENFILE``, ``ENOBUFS``, ``ENOMEM``) before accepting again.
        loop_lag_threshold: seconds a callback may hold the event loop before the watchdog logs the handler that
            held it; ``None`` turns the watchdog off.
        session_sweep_interval: seconds between sweeps that end legacy HTTP sessions idle past their timeout.
    """

    shards: int = 16
    shutdown_timeout: float = 5.0
    intensity: int = 10
    period: float = 10.0
    accept_retry_delay: float = 0.1
    loop_lag_threshold: float | None = 0.25
    session_sweep_interval: float = 30.0

    def __attrs_post_init__(self) -> None:
        if self.shards < 1:
            raise ValueError("shards must be positive")
        if self.intensity < 0:
            raise ValueError("intensity must not be negative")
        for name in ("shutdown_timeout", "accept_retry_delay"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")
        for name in ("period", "session_sweep_interval"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be a positive number of seconds")
        if self.loop_lag_threshold is not None and not self.loop_lag_threshold > 0:
            raise ValueError("loop_lag_threshold must be a positive number of seconds, or None")
