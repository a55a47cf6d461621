"""Everything a worker process is told to do, resolved from flags and settings."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..conf import pgflow_settings


@dataclass
class WorkerOptions:
    queues: list[str] = field(default_factory=list)  # empty: every queue
    concurrency: int = 8
    batch_size: int = 0  # 0: as many as there are free threads
    burst: bool = False
    poll_interval: float = 2.0
    shutdown_timeout: float = 30.0
    heartbeat_interval: float = 5.0
    dead_after: float = 60.0
    lease_margin: float = 30.0
    prune_interval: float = 0.0
    exit_on_timeout: bool = False  # set under a supervisor: a stuck thread dies with its process
    install_signals: bool = True
    alias: str = "default"

    @classmethod
    def from_settings(cls, **overrides: object) -> WorkerOptions:
        s = pgflow_settings
        values: dict[str, object] = {
            "concurrency": s.CONCURRENCY,
            "batch_size": s.CLAIM_BATCH_SIZE,
            "poll_interval": float(s.POLL_INTERVAL),
            "shutdown_timeout": float(s.SHUTDOWN_TIMEOUT),
            "heartbeat_interval": float(s.HEARTBEAT_INTERVAL),
            "dead_after": float(s.WORKER_DEAD_AFTER),
            "lease_margin": float(s.LEASE_MARGIN),
            "prune_interval": float(s.PRUNE_INTERVAL),
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]

    @property
    def held_limit(self) -> int:
        """How many claimed jobs the process holds at once (running plus waiting)."""
        return max(self.concurrency, self.batch_size)
