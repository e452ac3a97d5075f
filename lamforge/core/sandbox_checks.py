"""The host-side judges of a hostile case's own report (:mod:`lamforge.core.sandbox_cases`): each
:data:`Check` reads what the snippet recorded and returns how it got out, or None when it stayed contained.

Kept apart from the corpus because these are a small vocabulary the cases are written in (blocked
attempts, counts under a limit, host text that must not show), while the corpus module is the snippets
themselves; a new case usually combines these rather than adding one.
"""

from __future__ import annotations

from collections.abc import Callable

from lamforge.core.sandbox import SandboxLimits, SandboxResult

Check = Callable[[SandboxResult, SandboxLimits], "str | None"]


def _blocked(*labels: str) -> Check:
    """Escaped if any of ``labels`` (every attempt when none is named) succeeded."""
    def check(r: SandboxResult, limits: SandboxLimits) -> str | None:
        v = r.value if isinstance(r.value, dict) else {}
        done = [k for k in (labels or v) if str(v.get(k, "")).startswith("OK")]
        return f"succeeded: {'; '.join(f'{k} -> {v[k]}' for k in done)}" if done else None
    return check


def _unfinished(r: SandboxResult, limits: SandboxLimits) -> str | None:
    return "it ran to the end past its limits" if r.ok else None


def _under(key: str, cap: Callable[[SandboxLimits], int], what: str) -> Check:
    def check(r: SandboxResult, limits: SandboxLimits) -> str | None:
        got = (r.value or {}).get(key, 0) if isinstance(r.value, dict) else 0
        return f"{what}: {got}, over the limit of {cap(limits)}" if got > cap(limits) else None
    return check


def _all(*checks: Check) -> Check:
    def check(r: SandboxResult, limits: SandboxLimits) -> str | None:
        return "; ".join(e for c in checks if (e := c(r, limits))) or None
    return check


def _none(r: SandboxResult, limits: SandboxLimits) -> str | None:
    return None


def _privileges(r: SandboxResult, limits: SandboxLimits) -> str | None:
    v = r.value if isinstance(r.value, dict) else {}
    if v.get("caps") != "0000000000000000" or v.get("no_new_privs") != "1":
        return f"capabilities {v.get('caps')}, no_new_privs {v.get('no_new_privs')}"
    return None


def _host_text(key: str, needles: tuple[str, ...]) -> Check:
    def check(r: SandboxResult, limits: SandboxLimits) -> str | None:
        text = str((r.value or {}).get(key, "")) if isinstance(r.value, dict) else ""
        return f"saw host data ({', '.join(n for n in needles if n in text)})" if any(n in text for n in needles) \
            else None
    return check


def _fds(r: SandboxResult, limits: SandboxLimits) -> str | None:
    fds = (r.value or {}).get("fds", {}) if isinstance(r.value, dict) else {}
    odd = {k: v for k, v in fds.items() if not v.startswith(("pipe:", "anon_inode:", "/dev/null", "/proc/"))}
    return f"inherited descriptors {odd}" if odd else None
