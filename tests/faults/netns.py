"""A second "host" for a worker: a network namespace joined to this one by a veth pair.

``10.200.N.1`` is this side (where PostgreSQL also listens), ``10.200.N.2`` the
namespace's side; ``cut()`` takes the link down, so packets vanish silently
(no reset, no error), as in a real network partition.
"""

from __future__ import annotations

import os
import shutil
import subprocess


def unavailable() -> str | None:
    """Why a namespace cannot be made here, or None when it can."""
    if os.geteuid() != 0:
        return "network namespaces need root (ip netns add); not root here"
    if shutil.which("ip") is None:
        return "the ip command (iproute2) is not installed"
    probe = f"pgflowprobe{os.getpid()}"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if made.returncode != 0:
        return f"ip netns add failed: {made.stderr.strip()}"
    subprocess.run(["ip", "netns", "delete", probe], capture_output=True)
    return None


def _ip(*args: str) -> str:
    return subprocess.run(["ip", *args], check=True, capture_output=True, text=True).stdout


class Namespace:
    def __init__(self) -> None:
        self.name = f"pgflow{os.getpid()}"
        self.host_if = f"pgfh{os.getpid()}"[:15]
        self.ns_if = f"pgfn{os.getpid()}"[:15]
        used = _ip("-o", "-4", "addr")
        third = next(n for n in range(1, 255) if f" 10.200.{n}." not in used)
        self.host_ip = f"10.200.{third}.1"
        self.ns_ip = f"10.200.{third}.2"

    @property
    def prefix(self) -> list[str]:
        """Run a command inside the namespace: ``[*ns.prefix, command...]``."""
        return ["ip", "netns", "exec", self.name]

    def create(self) -> Namespace:
        _ip("netns", "add", self.name)
        _ip("link", "add", self.host_if, "type", "veth", "peer", "name", self.ns_if)
        _ip("link", "set", self.ns_if, "netns", self.name)
        _ip("addr", "add", f"{self.host_ip}/24", "dev", self.host_if)
        _ip("link", "set", self.host_if, "up")
        inside = ["netns", "exec", self.name, "ip"]
        _ip(*inside, "addr", "add", f"{self.ns_ip}/24", "dev", self.ns_if)
        _ip(*inside, "link", "set", self.ns_if, "up")
        _ip(*inside, "link", "set", "lo", "up")
        return self

    def cut(self) -> None:
        _ip("link", "set", self.host_if, "down")

    def restore(self) -> None:
        _ip("link", "set", self.host_if, "up")

    def destroy(self) -> None:
        subprocess.run(["ip", "link", "delete", self.host_if], capture_output=True)
        subprocess.run(["ip", "netns", "delete", self.name], capture_output=True)
