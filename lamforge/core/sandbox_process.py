"""The sandbox's process plumbing: reading bwrap's report on the child it started, feeding the snippet
and collecting its output under a deadline and a cap, killing it through a pidfd, and waiting for its
pid namespace to empty.

Kept apart from :mod:`lamforge.core.sandbox` because none of it knows what the sandbox is for: it only
handles a started bwrap process and its pid namespace, while the sandbox module decides how the sandbox is
built (the bwrap command, the limits) and what a run's output means.
"""

from __future__ import annotations

import json
import os
import select
import selectors
import signal
import subprocess
import time
from contextlib import suppress


def _read_info(fd: int, deadline: float) -> dict:
    """bwrap's --info-fd JSON: the snippet's host pid and its pid namespace ({} if bwrap failed first)."""
    buf = b""
    while (left := deadline - time.monotonic()) > 0 and select.select([fd], [], [], left)[0]:
        if not (chunk := os.read(fd, 4096)):
            break
        buf += chunk
        with suppress(ValueError):
            return json.loads(buf)
    return {}


def _open_child(info: dict) -> int | None:
    """A pidfd on the snippet (pid 1 of its namespace): killing it kills the whole namespace."""
    pid, namespace = info.get("child-pid"), info.get("pid-namespace")
    if not pid:
        return None
    try:
        pidfd = os.pidfd_open(pid)
    except OSError:  # already gone
        return None
    with suppress(OSError):
        if os.readlink(f"/proc/{pid}/ns/pid") == f"pid:[{namespace}]":
            return pidfd
    os.close(pidfd)  # it ended and its pid was reused between bwrap's report and pidfd_open
    return None


def _exchange(proc: subprocess.Popen, data: bytes, deadline: float, cap: int) -> tuple[bytes, str | None]:
    """Feed the snippet on stdin and read the output until it closes, the deadline, or the cap."""
    out = bytearray()
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    os.set_blocking(proc.stdin.fileno(), False)
    sel.register(proc.stdin, selectors.EVENT_WRITE)
    sent, writing = 0, True
    try:
        while sel.get_map():
            left = deadline - time.monotonic()
            if left <= 0:
                return bytes(out), "timeout"
            for key, _ in sel.select(left):
                if key.fileobj is proc.stdin:
                    with suppress(BlockingIOError):
                        try:
                            sent += os.write(proc.stdin.fileno(), data[sent:sent + 65536])
                        except (BrokenPipeError, ConnectionResetError):
                            sent = len(data)
                    if sent >= len(data):
                        sel.unregister(proc.stdin)
                        proc.stdin.close()
                        writing = False
                    continue
                chunk = os.read(proc.stdout.fileno(), 65536)
                if not chunk:
                    sel.unregister(proc.stdout)
                    if writing:  # it will never read the rest
                        sel.unregister(proc.stdin)
                        writing = False
                    continue
                out += chunk
                if len(out) > cap:
                    return bytes(out[:cap]), "output"
        return bytes(out), None
    finally:
        sel.close()


def _kill(proc: subprocess.Popen, pidfd: int | None) -> int:
    """SIGKILL the snippet (pid 1 of its namespace: the kernel then kills the rest), let bwrap reap it
    and exit, and only then kill bwrap too if it lingers (killing both at once leaves the snippet a
    zombie for the host's init to reap). Returns bwrap's exit status."""
    if pidfd is not None:
        with suppress(OSError):
            signal.pidfd_send_signal(pidfd, signal.SIGKILL)
    try:
        return proc.wait(timeout=2.0)
    except subprocess.TimeoutExpired:
        with suppress(OSError):  # bwrap itself; not yet reaped, so its pid cannot be anyone else's
            os.killpg(proc.pid, signal.SIGKILL)
        return proc.wait()


def namespace_members(namespace: int | None) -> list[int]:
    """Host pids of the live processes (zombies are not) in pid namespace ``namespace``, by inode."""
    if not namespace:
        return []
    want, found = f"pid:[{namespace}]", []
    for name in os.listdir("/proc"):
        if name.isdigit():
            with suppress(OSError, ValueError, IndexError):
                if os.readlink(f"/proc/{name}/ns/pid") == want:
                    with open(f"/proc/{name}/stat", "rb") as f:
                        if f.read().rpartition(b")")[2].split()[0] != b"Z":
                            found.append(int(name))
    return found


def _wait_gone(namespace: int | None, timeout: float) -> int:
    """The kernel empties a pid namespace asynchronously after its pid 1 died: give it a moment."""
    end = time.monotonic() + timeout
    while (members := namespace_members(namespace)) and time.monotonic() < end:
        time.sleep(0.02)
    return len(members)
