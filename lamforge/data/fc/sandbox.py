"""Execute harvested pure functions in a child process, so that a call which hangs, exhausts
memory or crashes the interpreter costs one failed result instead of the caller.

One child serves a whole batch (thousands of calls would otherwise pay a Python start and the
imports each time). Protocol, one JSON line each way per step: the parent sends
``{module, qualname, args, positional, varargs, timeout}``; the child answers ``{"ready": true}``
once the target is imported (imports may be slow and are not the call's fault), then
``{"ok": bool, "out": str}``. The child interrupts a call with a timer signal; a call stuck in C
code ignores that, so the parent also kills the child and carries on with a fresh one.

This file runs as the child's script and therefore imports only the standard library.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lamforge.data.fc.apis import ApiFunction

GRACE_S = 2.0          # beyond the child's own timer, before the parent kills it
IMPORT_WAIT_S = 60.0   # importing numpy on a loaded machine takes seconds, not minutes
MEMORY_LIMIT = 4 << 30  # bytes of address space: np.ones(10**11) must fail, not swap the host
OUT_CHARS = 200


def run_call(fn: ApiFunction, arguments: dict, timeout: float = 3.0) -> tuple[bool, str]:
    """(ok, repr of the result or "ErrorType: message") of ``fn(**arguments)`` run in a child."""
    return run_calls([(fn, arguments)], timeout)[0]


def run_calls(pairs: list[tuple[ApiFunction, dict]], timeout: float = 3.0) -> list[tuple[bool, str]]:
    """:func:`run_call` for each pair, in order, all in one child process (replaced after a crash
    or a hang)."""
    impure = [fn.name for fn, _ in pairs if not fn.pure]
    if impure:
        raise ValueError(f"refusing to execute functions not marked pure: {', '.join(impure[:5])}")
    results, child = [], None
    try:
        for fn, args in pairs:
            child = child or _Child()
            ok, out, alive = child.ask({"module": fn.module, "qualname": fn.qualname, "args": args,
                                        "positional": list(fn.positional), "varargs": fn.varargs,
                                        "timeout": timeout}, timeout)
            results.append((ok, out))
            if not alive:
                child.close()
                child = None
    finally:
        if child:
            child.close()
    return results


class _Child:
    def __init__(self) -> None:
        # the caller's import path is appended in the child, never put first: a script folder
        # holding a types.py would otherwise shadow the standard library
        env = dict(os.environ, LAMFORGE_SANDBOX_PATH=os.pathsep.join(p for p in sys.path if p),
                   OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
        # -P: this package's folder must not become importable as top-level modules in the child
        self.proc = subprocess.Popen([sys.executable, "-P", "-u", os.path.abspath(__file__)], env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL)
        self.buffer = b""

    def ask(self, message: dict, timeout: float) -> tuple[bool, str, bool]:
        """(ok, out, whether the child can take another call)."""
        try:
            self.proc.stdin.write(json.dumps(message).encode() + b"\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError, TypeError, ValueError) as e:
            if isinstance(e, (TypeError, ValueError)):  # arguments that are not JSON
                return False, _short(f"{type(e).__name__}: {e}"), True
            return False, self._crash(), False
        for wait in (IMPORT_WAIT_S, timeout + GRACE_S):
            line = self._line(wait)
            if line is None:
                self.close()
                return False, f"TimeoutError: no result within {timeout:g} s", False
            if line == b"":
                return False, self._crash(), False
        reply = json.loads(line)
        return bool(reply["ok"]), str(reply["out"]), True

    def _line(self, wait: float) -> bytes | None:
        """The next line; b"" at end of file, None when nothing came within ``wait`` seconds."""
        fd = self.proc.stdout.fileno()
        while b"\n" not in self.buffer:
            if not select.select([fd], [], [], wait)[0]:
                return None
            chunk = os.read(fd, 65536)
            if not chunk:
                return b""
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return line

    def _crash(self) -> str:
        try:
            code = self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            code = None
        self.close()
        return f"ChildCrashed: the call ended its process (exit code {code})"

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                stream.close()
            except OSError:
                pass


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= OUT_CHARS else text[:OUT_CHARS - 3] + "..."


# --- the child --------------------------------------------------------------------------------


class _Timeout(BaseException):
    """BaseException, so that a function catching Exception cannot swallow it."""


def _serve() -> None:
    import importlib
    import resource
    import signal

    sys.path.extend(p for p in os.environ.get("LAMFORGE_SANDBOX_PATH", "").split(os.pathsep)
                    if p and p not in sys.path)
    reply = os.fdopen(os.dup(1), "w", buffering=1)
    # a pure function that prints must not corrupt the protocol
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process
    try:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, resource.getrlimit(resource.RLIMIT_AS)[1]))
    except (ValueError, OSError):
        pass

    def alarm(*_: Any) -> None:
        raise _Timeout

    signal.signal(signal.SIGALRM, alarm)
    while line := sys.stdin.readline():
        msg = json.loads(line)
        try:
            target: Any = importlib.import_module(msg["module"])
            for part in msg["qualname"].split("."):
                target = getattr(target, part)
        except BaseException as e:  # noqa: BLE001 - reported as the call's failure
            target, error = None, e
        reply.write('{"ready": true}\n')
        if target is None:
            ok, out = False, f"{type(error).__name__}: {error}"
        else:
            ok, out = _call(target, msg, signal)
        reply.write(json.dumps({"ok": ok, "out": _short(out)}) + "\n")


def _call(target: Any, msg: dict, signal: Any) -> tuple[bool, str]:
    import collections.abc
    import itertools

    args = dict(msg["args"])
    positional = []
    for name in msg["positional"]:
        if name not in args:
            break
        positional.append(args.pop(name))
    if msg["varargs"] and msg["varargs"] in args:
        splat = args.pop(msg["varargs"])
        positional.extend(splat if isinstance(splat, list) else [splat])
    signal.setitimer(signal.ITIMER_REAL, msg["timeout"])
    try:
        result = target(*positional, **args)
        if isinstance(result, collections.abc.Iterator):  # difflib.ndiff, re.finditer: show the items
            result = list(itertools.islice(result, 1000))
        return True, repr(result)[:OUT_CHARS * 2]
    except _Timeout:
        return False, f"TimeoutError: no result within {msg['timeout']:g} s"
    except BaseException as e:  # noqa: BLE001 - SystemExit or KeyboardInterrupt from the callee are its failure too
        return False, f"{type(e).__name__}: {e}"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


if __name__ == "__main__":
    _serve()
