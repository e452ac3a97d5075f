"""Run the hostile corpus (:data:`lamforge.core.sandbox_cases.HOSTILE_CASES`) through the sandbox and
judge each case from the host: ``lamforge bench sandbox`` and the tests call :func:`check_containment`.

The host sets up its bait once (:func:`bait`), gives each case a fresh caller scratch folder holding
``input.txt``, and afterwards looks at the host, not only at what the snippet says:

* a secret in the parent's environment and in a world-readable file outside the sandbox must not
  appear anywhere in what comes back;
* the host paths the snippets try to create (/work, /usr, /etc, the host's /tmp, the checkout, HOME, a
  world-writable folder) must not exist;
* a TCP listener, a UDP socket and an abstract unix socket on the host's loopback must receive nothing;
* a process running as the sandbox's own uid, which only the pid namespace protects, must survive;
* no link or special file may come back into the caller's scratch folder;
* no process of the run's pid namespace (nor, under root, of the sandbox uid) may be alive, and the
  run must have ended within its wall-clock limit plus ``GRACE_SECONDS``.

A case is ``contained`` with no evidence, ``ESCAPED`` with some, and ``inconclusive`` when a snippet
that should have reported what it managed did not (the case then proved nothing either way).
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

from lamforge.core.sandbox import NOBODY, SandboxLimits, SandboxResult, run_python
from lamforge.core.sandbox_cases import CANARY_ENV, GRACE_SECONDS, HOSTILE_CASES, PRELUDE, HostileCase
from lamforge.core.sandbox_files import remove_tree


SHOWN = ("/usr", "/bin", "/sbin", "/lib", "/lib64", "/etc/alternatives")  # read-only in every sandbox


@dataclass
class CaseReport:
    name: str
    status: str  # "contained", "ESCAPED" or "inconclusive"
    seconds: float
    limit_seconds: float
    leftover: int  # processes of the case still alive after it returned
    error: str | None  # how the sandbox ended it ("timed out after 5 s", "memory limit ...")
    evidence: list[str] = field(default_factory=list)


@dataclass
class Bait:
    """What the host set up for the snippets to go after; ``ctx`` is what they are told (never the secret)."""
    secret: str
    targets: list[str]
    tcp: socket.socket
    udp: socket.socket
    unix: socket.socket
    victim: subprocess.Popen
    ctx: dict


def _sandbox_uid_pids() -> set[int]:
    """Live host processes of the sandbox uid (only meaningful under root, where it is nobody's)."""
    if os.geteuid() != 0:
        return set()
    found = set()
    for name in os.listdir("/proc"):
        if name.isdigit():
            with suppress(OSError, ValueError, IndexError):
                status = Path(f"/proc/{name}/status").read_text()
                fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
                if int(fields["Uid"].split()[0]) == NOBODY[0] and not fields["State"].strip().startswith("Z"):
                    found.add(int(name))
    return found


def _victim() -> subprocess.Popen:
    """A host process of the sandbox's own uid: only the pid namespace keeps a snippet from killing it."""
    user = {"user": NOBODY[0], "group": NOBODY[1], "extra_groups": []} if os.geteuid() == 0 else {}
    return subprocess.Popen(["sleep", "3600"], start_new_session=True, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **user)


@contextmanager
def bait() -> Iterator[Bait]:
    secret = "LAMFORGE-SECRET-" + secrets.token_hex(12)
    write_id = "lamforge-escape-" + secrets.token_hex(6)
    canary_dir = Path(tempfile.mkdtemp(prefix="lamforge-canary-"))
    os.chmod(canary_dir, 0o777)  # permissions would let anyone in: only the sandbox keeps the code out
    (canary_dir / "secret.txt").write_text(secret)
    os.chmod(canary_dir / "secret.txt", 0o644)
    repo = Path(__file__).resolve().parents[2]  # the checkout (or site-packages) lamforge runs from
    if any(repo.is_relative_to(p) for p in SHOWN):  # installed under /usr: the sandbox shows it by design
        repo = Path("/nonexistent-lamforge-checkout")
    home = Path.home()
    targets = list(dict.fromkeys([f"/work/{write_id}", f"/usr/{write_id}", f"/etc/{write_id}", f"/tmp/{write_id}",
                                  f"{tempfile.gettempdir()}/{write_id}", str(repo / write_id), str(home / write_id),
                                  str(canary_dir / write_id)]))
    tcp = socket.socket()
    tcp.bind(("127.0.0.1", 0))
    tcp.listen(16)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    unix = socket.socket(socket.AF_UNIX)
    unix.bind("\0" + write_id)
    unix.listen(16)
    for s in (tcp, udp, unix):
        s.setblocking(False)
    old_env = os.environ.get(CANARY_ENV)
    os.environ[CANARY_ENV] = secret
    b = Bait(secret, targets, tcp, udp, unix, _victim(), {
        "write_id": write_id, "targets": targets, "canary_file": str(canary_dir / "secret.txt"),
        "canary_env": CANARY_ENV, "tcp_port": tcp.getsockname()[1], "udp_port": udp.getsockname()[1],
        "unix_name": write_id, "parent_pid": os.getpid(), "repo": str(repo), "home": str(home)})
    b.ctx["victim_pid"] = b.victim.pid
    try:
        yield b
    finally:
        if old_env is None:
            os.environ.pop(CANARY_ENV, None)
        else:
            os.environ[CANARY_ENV] = old_env
        for s in (tcp, udp, unix):
            s.close()
        b.victim.kill()
        b.victim.wait()
        for t in targets:
            _remove_target(t)
        remove_tree(canary_dir)


def _remove_target(path: str) -> None:
    with suppress(OSError):
        if os.path.isdir(path) and not os.path.islink(path):
            remove_tree(Path(path))
        elif os.path.lexists(path):
            os.unlink(path)


def _host_evidence(b: Bait, r: SandboxResult, scratch: Path, limits: SandboxLimits) -> list[str]:
    out = []
    seen = json.dumps(r.value) + r.stdout + (r.error or "")
    if b.secret in seen:
        out.append("the secret (parent environment / host file) came back")
    for t in b.targets:
        if os.path.lexists(t):
            out.append(f"created {t} on the host")
            _remove_target(t)
    for name, sock in (("TCP", b.tcp), ("unix", b.unix)):
        with suppress(BlockingIOError):
            conn, _ = sock.accept()
            conn.close()
            out.append(f"connected to the parent's {name} listener")
    with suppress(BlockingIOError):
        b.udp.recvfrom(64)
        out.append("sent a datagram to the parent's UDP socket")
    if b.victim.poll() is not None:
        out.append("killed a host process")
        b.victim = _victim()
        b.ctx["victim_pid"] = b.victim.pid
    stack = [scratch]
    while stack:
        for e in os.scandir(stack.pop()):
            if e.is_dir(follow_symlinks=False):
                stack.append(Path(e.path))
            elif not e.is_file(follow_symlinks=False):
                out.append(f"a link or special file came back into the caller's folder: {e.name}")
            elif e.stat(follow_symlinks=False).st_size > limits.file_mb << 20:
                out.append(f"{e.name} came back over the file-size limit")
    if r.leftover:
        out.append(f"{r.leftover} processes of the run still alive")
    if r.seconds > limits.wall_seconds + GRACE_SECONDS:
        out.append(f"ran {r.seconds:.1f} s, over its {limits.wall_seconds:g} s limit")
    return out


def run_case(case: HostileCase, b: Bait, limits: SandboxLimits) -> CaseReport:
    before = _sandbox_uid_pids()
    scratch = Path(tempfile.mkdtemp(prefix="lamforge-caller-"))
    try:
        (scratch / "input.txt").write_text("input of the caller\n")
        code = "import json as _json\nCTX = _json.loads(" + repr(json.dumps(b.ctx)) + ")\n" + PRELUDE + case.code
        r = run_python(code, scratch=scratch, limits=limits)
        evidence = _host_evidence(b, r, scratch, limits)
    finally:
        remove_tree(scratch)
    if (own := case.check(r, limits)) is not None:
        evidence.append(own)
    time.sleep(0.05)
    if stray := _sandbox_uid_pids() - before - {b.victim.pid}:
        evidence.append(f"processes of the sandbox user left on the host: {sorted(stray)}")
    status = "ESCAPED" if evidence else "inconclusive" if case.reports and not r.ok else "contained"
    if status == "inconclusive":
        evidence.append(f"the snippet did not report: {r.error}")
    return CaseReport(case.name, status, r.seconds, limits.wall_seconds + GRACE_SECONDS, r.leftover + len(stray),
                      r.error, evidence)


def check_containment(limits: SandboxLimits = SandboxLimits(), names: list[str] | None = None,
                      limit: int | None = None,
                      progress: Callable[[CaseReport], None] | None = None) -> list[CaseReport]:
    """Run the hostile cases (all, those in ``names``, or the first ``limit``) one after the other."""
    if names is not None and (unknown := set(names) - {c.name for c in HOSTILE_CASES}):
        raise KeyError(f"no hostile case named {sorted(unknown)}")
    cases = [c for c in HOSTILE_CASES if names is None or c.name in names][:limit]
    reports = []
    with bait() as b:
        for case in cases:
            reports.append(run_case(case, b, limits))
            if progress:
                progress(reports[-1])
    return reports


def summary(reports: list[CaseReport]) -> dict:
    return {"cases": len(reports), "escapes": sum(r.status == "ESCAPED" for r in reports),
            "inconclusive": sum(r.status == "inconclusive" for r in reports),
            "leftover_processes": sum(r.leftover for r in reports),
            "max_seconds": max((r.seconds for r in reports), default=0.0)}
