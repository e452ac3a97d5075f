"""A real sandbox for model-written Python: code actions in the PAL style (issue #18).

    from lamforge.core.sandbox import SandboxLimits, run_python

    r = run_python("result = sum(range(10))")
    r.ok, r.value                                   # True, 45
    r = run_python("while True: pass", limits=SandboxLimits(wall_seconds=2))
    r.ok, r.error, r.killed                         # False, "timed out after 2 s", True
    r = run_python("open('out.txt', 'w').write('hi')", scratch=Path("work"))   # work/out.txt appears

The value of a snippet is what it assigns to ``result`` (it must be JSON-serialisable, and it counts
towards the output cap); without a ``result`` it is what the snippet printed (parsed as JSON when it
is JSON). ``lamforge bench sandbox``
runs the hostile corpus of :mod:`lamforge.core.sandbox_cases` through it.

Why it is built this way:

* Isolation comes from the kernel, through bubblewrap (``bwrap``): new user, pid, network, mount,
  IPC, UTS and cgroup namespaces. The child sees a read-only ``/usr`` (and the ``/bin``, ``/lib``
  links to it), a fresh ``/proc`` that shows only its own processes, a minimal ``/dev``, small private
  ``/tmp`` and ``/dev/shm``, and one writable folder, ``/scratch`` (its working directory); the rest of
  its root is read-only. No ``/etc`` (but ``/etc/alternatives``), no ``/home``, no ``/root``, no
  checkout, no HOME, and an environment reduced to PATH and LANG. The
  network namespace has only its own loopback: nothing on the host or beyond is reachable. Nested
  user namespaces are disabled (``--disable-userns``), so the code cannot gain namespace capabilities.
* The interpreter is the system's ``/usr/bin/python3``, not the virtual environment: the venv lives
  in the checkout, which the sandbox must not see.
* When lamforge runs as root, bwrap is started as ``nobody`` (uid/gid 65534). A user namespace made
  by root maps the sandbox to host uid 0, and uid 0 owns the sysctl files, which the kernel lets
  their owner open for writing without any capability: measured here, even under ``--cap-drop ALL``
  such a sandbox opens ``/proc/sys/kernel/core_pattern`` for writing (a host-root code path). As
  nobody it owns nothing on the host.
* Resource limits (``prlimit`` run inside the sandbox, so they bind the snippet and every process it
  starts, soft = hard so they cannot be raised): CPU seconds, address space, processes, file size,
  open files, no core files. RLIMIT_NPROC counts per (user namespace, uid) since Linux 5.14, so each
  run has its own budget of processes: a fork bomb stops at ``processes``, however many sandboxes
  run side by side. The parent adds a wall-clock limit and an output cap, and kills on either.
* Nothing outlives a run: the snippet is pid 1 of its pid namespace (``--as-pid-1``), so when it
  ends, or is killed through a pidfd, the kernel kills every process it started; ``--die-with-parent``
  does the same if lamforge itself dies. After each run the parent scans ``/proc`` for processes
  still in that namespace and reports their number (``leftover``, expected 0).
* The sandbox works in a fresh folder. With ``scratch=`` the caller's files are copied in before the
  run and what the code leaves there is copied back after it, regular files and folders only: a
  link the code made never leads the copy (done by the parent, possibly as root) outside the folder,
  and a pipe cannot block it. Files the code deleted are not deleted in the caller's folder.

Limits: no seccomp filter, so the kernel's whole system-call surface inside a user namespace is
reachable; the scratch folder is on the host disk, each file capped by the file-size limit but their
number only by the time limit.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from lamforge.core.errors import LamforgeError
from lamforge.core.sandbox_files import copy_tree, remove_tree, unreachable
# how a started bwrap process is fed, read, killed and waited for lives apart; namespace_members stays
# importable from here, and _run looks _wait_gone up in this module (tests wrap it)
from lamforge.core.sandbox_process import (  # noqa: F401  (namespace_members: re-exported)
    _exchange, _kill, _open_child, _read_info, _wait_gone, namespace_members)

BWRAP_ENV = "LAMFORGE_BWRAP"  # path to bwrap; tests point it at a missing file
PYTHON = "/usr/bin/python3"
PRLIMIT = "/usr/bin/prlimit"
NOBODY = (65534, 65534)  # the sandbox's host uid/gid when lamforge runs as root
SANDBOX_PATH = "/usr/bin:/bin"


class SandboxUnavailable(LamforgeError):
    """bubblewrap is missing or cannot create the namespaces: model-written code is never run without them."""


@dataclass(frozen=True)
class SandboxLimits:
    wall_seconds: float = 5.0
    cpu_seconds: int = 5
    memory_mb: int = 256  # address space of each process
    processes: int = 32  # processes and threads of the whole run, the snippet included
    file_mb: int = 16  # largest file the code may write
    open_files: int = 64
    output_kb: int = 64  # stdout and stderr together
    tmp_mb: int = 16  # each of the private /tmp and /dev/shm


class SandboxResult(BaseModel):
    ok: bool
    value: Any = None
    stdout: str = ""  # stdout and stderr as they came, capped at output_kb
    error: str | None = None
    seconds: float
    killed: bool = False  # the parent killed it (time or output limit)
    leftover: int = 0  # processes of the run still alive after it returned


# Runs first in the sandbox: marks the start (anything before it is bwrap's), reads the snippet from
# stdin, runs it and writes a JSON report behind the marker on a private copy of stdout.
BOOTSTRAP = r"""
import json, os, sys, traceback
marker = sys.argv.pop(1)
main = os.getpid()
channel = os.fdopen(os.dup(1), "w", encoding="utf-8", errors="replace")
channel.write(marker + " start\n")
channel.flush()
source = sys.stdin.read()
sys.stdin.close()
sys.stdin = open(os.devnull)
scope = {"__name__": "__main__", "__builtins__": __builtins__}
report = {}
try:
    exec(compile(source, "<snippet>", "exec"), scope)
except SystemExit as exc:
    if exc.code not in (None, 0):
        report.update(error="SystemExit: %s" % (exc.code,), kind="SystemExit")
except BaseException as exc:
    line = None
    if not isinstance(exc, SyntaxError):
        for frame in traceback.extract_tb(exc.__traceback__):
            if frame.filename == "<snippet>":
                line = frame.lineno
    report.update(error="%s: %s" % (type(exc).__name__, exc), kind=type(exc).__name__, line=line,
                  errno=getattr(exc, "errno", None))
if os.getpid() != main:  # a child the snippet forked ran off its end: only the snippet itself reports
    os._exit(0)
if "error" not in report and "result" in scope:
    try:
        json.dumps(scope["result"], allow_nan=False)
        report["value"] = scope["result"]
    except BaseException as exc:
        report.update(error="result is not JSON-serialisable (%s: %s)" % (type(exc).__name__, exc), kind="result")
report["has_result"] = "value" in report
for stream in (sys.stdout, sys.stderr):
    try:
        stream.flush()
    except BaseException:
        pass
channel.write("\n" + marker + " end " + json.dumps(report) + "\n")
channel.flush()
os._exit(0)
"""


def bwrap_path() -> str:
    """``LAMFORGE_BWRAP``, else the system's bwrap."""
    return os.environ.get(BWRAP_ENV) or shutil.which("bwrap", path="/usr/bin:/bin:/usr/local/bin") or "/usr/bin/bwrap"


def _tools() -> str:
    bwrap = bwrap_path()
    if not (os.path.isfile(bwrap) and os.access(bwrap, os.X_OK)):
        raise SandboxUnavailable(f"bubblewrap (bwrap) not found at {bwrap}: install it with `apt-get install "
                                 "bubblewrap` (or `make bubblewrap`); model-written code never runs unsandboxed")
    for tool, package in ((PYTHON, "python3"), (PRLIMIT, "util-linux")):
        if not os.path.isfile(tool):
            raise SandboxUnavailable(f"{tool} not found: the sandbox needs it (apt-get install {package})")
    return bwrap


def _command(bwrap: str, stage: Path, limits: SandboxLimits, info_fd: int, marker: str) -> list[str]:
    mb = 1 << 20
    cmd = [bwrap, "--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent", "--new-session",
           "--as-pid-1", "--hostname", "sandbox", "--clearenv", "--setenv", "PATH", SANDBOX_PATH,
           "--setenv", "LANG", "C.UTF-8", "--ro-bind", "/usr", "/usr"]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):  # merged-/usr links, or real folders
        if os.path.islink(top):
            cmd += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            cmd += ["--ro-bind", top, top]
    cmd += ["--ro-bind-try", "/etc/alternatives", "/etc/alternatives", "--proc", "/proc", "--dev", "/dev",
            "--size", str(limits.tmp_mb * mb), "--tmpfs", "/tmp", "--size", str(limits.tmp_mb * mb), "--tmpfs",
            "/dev/shm", "--bind", str(stage), "/scratch", "--remount-ro", "/", "--chdir", "/scratch",
            "--info-fd", str(info_fd), "--",
            PRLIMIT, f"--cpu={limits.cpu_seconds}:{limits.cpu_seconds + 1}",
            f"--as={limits.memory_mb * mb}", f"--nproc={limits.processes}", f"--fsize={limits.file_mb * mb}",
            f"--nofile={limits.open_files}", "--core=0", "--",
            PYTHON, "-I", "-B", "-u", "-c", BOOTSTRAP, marker]
    return cmd


def run_python(code: str, *, scratch: Path | None = None, limits: SandboxLimits = SandboxLimits()) -> SandboxResult:
    """Run ``code`` in a fresh sandbox and return what it produced; raises only :class:`SandboxUnavailable`."""
    bwrap = _tools()
    ids = NOBODY if os.geteuid() == 0 else None
    stage = Path(tempfile.mkdtemp(prefix="lamforge-sandbox-")).resolve()
    try:
        if ids:
            if (closed := unreachable(stage.parent, ids)) is not None:  # bwrap runs as ids and must get there
                raise SandboxUnavailable(f"the sandbox user (uid {ids[0]}) cannot enter {closed}: point TMPDIR "
                                         "at a folder every user may enter, such as /tmp")
            os.chown(stage, *ids)
        if scratch is not None:
            Path(scratch).mkdir(parents=True, exist_ok=True)
            copy_tree(Path(scratch), stage, owner=ids)
        result = _run(bwrap, code, stage, limits, ids)
        if scratch is not None:
            copy_tree(stage, Path(scratch), owner=None)
        return result
    finally:
        remove_tree(stage)


def _run(bwrap: str, code: str, stage: Path, limits: SandboxLimits, ids: tuple[int, int] | None) -> SandboxResult:
    marker = "@@lamforge-sandbox-" + secrets.token_hex(8)
    info_r, info_w = os.pipe()
    start = time.monotonic()
    deadline = start + limits.wall_seconds
    user = {"user": ids[0], "group": ids[1], "extra_groups": []} if ids else {}
    try:
        proc = subprocess.Popen(_command(bwrap, stage, limits, info_w, marker), stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, pass_fds=(info_w,),
                                start_new_session=True, env={"PATH": SANDBOX_PATH}, cwd="/", **user)
    except OSError as e:
        os.close(info_r)
        raise SandboxUnavailable(f"cannot start bubblewrap ({bwrap}): {e}") from e
    finally:
        os.close(info_w)
    pidfd = namespace = None
    out, killed_for = b"", None
    try:
        info = _read_info(info_r, deadline)
        namespace = info.get("pid-namespace")
        pidfd = _open_child(info)
        out, killed_for = _exchange(proc, code.encode("utf-8", "surrogateescape"), deadline,
                                    limits.output_kb * 1024 + 4096)
        if killed_for is None:  # output closed: the snippet ended, or closed its output and runs on
            try:
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                killed_for = "timeout"
    finally:
        os.close(info_r)
        rc = _kill(proc, pidfd)  # always: a no-op after a clean end, and a pidfd never hits a recycled pid
        for stream in (proc.stdin, proc.stdout):
            with suppress(OSError):
                stream.close()
        leftover = _wait_gone(namespace, 2.0)
        if pidfd is not None:
            os.close(pidfd)
    return _interpret(out, rc, killed_for, marker, limits, time.monotonic() - start, leftover)


def _interpret(raw: bytes, rc: int, killed_for: str | None, marker: str, limits: SandboxLimits,
               seconds: float, leftover: int) -> SandboxResult:
    text = raw.decode("utf-8", "replace")
    head, started, body = text.partition(f"{marker} start\n")
    if not started:
        if killed_for is None and rc != 0:
            raise SandboxUnavailable(
                f"bubblewrap could not create the sandbox (exit {rc}): {head.strip()[-400:]}. It needs "
                "unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1, and on Ubuntu "
                "kernel.apparmor_restrict_unprivileged_userns=0); install it with `apt-get install bubblewrap`")
        body = ""
    shown, ended, tail = body.rpartition(f"\n{marker} end ")
    report: dict = {}
    if ended:
        with suppress(ValueError, IndexError):
            report = json.loads(tail.splitlines()[0])
    else:
        shown = body
    shown = shown[: limits.output_kb * 1024]
    error = _error(report if ended else None, shown, rc, killed_for, limits)
    value = report.get("value")
    if error is None and not report.get("has_result") and shown.strip():
        try:
            value = json.loads(shown)
        except ValueError:
            value = shown.strip()
    return SandboxResult(ok=error is None, value=value if error is None else None, stdout=shown, error=error,
                         seconds=round(seconds, 3), killed=killed_for is not None, leftover=leftover)


def _error(report: dict | None, shown: str, rc: int, killed_for: str | None, limits: SandboxLimits) -> str | None:
    memory = f"memory limit ({limits.memory_mb} MB) exceeded"
    if killed_for == "timeout":
        return f"timed out after {limits.wall_seconds:g} s"
    if killed_for == "output":
        return f"output over {limits.output_kb} KB cut"
    if report is not None:
        if report.get("kind") == "MemoryError":
            return memory
        if report.get("errno") == 27:  # EFBIG
            return f"file size limit ({limits.file_mb} MB) exceeded"
        if report.get("error"):
            return report["error"] + (f" (line {report['line']})" if report.get("line") else "")
        return None
    if "MemoryError" in shown:
        return memory
    sig = rc - 128 if rc > 128 else -rc if rc < 0 else 0
    if sig in (signal.SIGXCPU, signal.SIGKILL):
        return f"CPU limit ({limits.cpu_seconds} s) exceeded"
    if sig:
        with suppress(ValueError):
            return f"crashed ({signal.Signals(sig).name})"
        return f"crashed (signal {sig})"
    return f"ended without a result (exit status {rc})"
