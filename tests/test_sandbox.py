"""The sandbox for model-written Python (issue #18): values and errors come back clearly, hostile code
stays contained with nothing left running, the containment check does see an escape when the sandbox
is weakened on purpose, and a missing bubblewrap is a typed error, never an unsandboxed run.

Needs bubblewrap (``make bubblewrap``); without it every test that runs code is skipped, with that
reason. The whole hostile corpus is the ``slow`` test at the end (``lamforge bench sandbox`` runs it too).
"""

from __future__ import annotations

import json
import os
import shutil
import time

import pytest
from typer.testing import CliRunner

import lamforge.core.sandbox as sandbox
from lamforge.core.sandbox import BWRAP_ENV, SandboxLimits, SandboxUnavailable, namespace_members, run_python
from lamforge.core.sandbox_bench import bait, check_containment, run_case, summary
from lamforge.core.sandbox_cases import HOSTILE_CASES

needs_bwrap = pytest.mark.skipif(
    not (os.environ.get(BWRAP_ENV) or shutil.which("bwrap") or os.path.exists("/usr/bin/bwrap")),
    reason="bubblewrap (bwrap) is not installed: run `make bubblewrap` (apt-get install bubblewrap)")

QUICK = SandboxLimits(wall_seconds=20)  # benign code: room for a loaded machine, never reached
SHORT = SandboxLimits(wall_seconds=2)  # hostile code that runs until it is stopped
CASES = {c.name: c for c in HOSTILE_CASES}


@pytest.fixture(scope="module")
def hostile():
    with bait() as b:
        yield b


@needs_bwrap
def test_benign_code_returns_its_json_value():
    r = run_python("import math\nresult = {'sum': sum(range(10)), 'root': math.isqrt(49), 'items': [1, 'a', None]}",
                   limits=QUICK)
    assert r.ok and r.error is None and not r.killed and r.leftover == 0
    assert r.value == {"sum": 45, "root": 7, "items": [1, "a", None]}


@needs_bwrap
def test_without_result_the_printed_output_is_the_value():
    assert run_python("import json\nprint(json.dumps([1, 2]))", limits=QUICK).value == [1, 2]
    r = run_python("print('hello, sandbox')", limits=QUICK)
    assert r.ok and r.value == "hello, sandbox" and r.stdout == "hello, sandbox\n"


@needs_bwrap
def test_only_the_snippet_itself_reports_not_the_children_it_forked():
    r = run_python("import os\nresult = 'child' if os.fork() == 0 else 'parent'\nif result == 'parent':\n"
                   "    os.wait()", limits=QUICK)
    assert r.ok and r.value == "parent" and "@@lamforge" not in r.stdout


@needs_bwrap
def test_syntax_errors_and_exceptions_are_one_clear_line():
    r = run_python("def f(:\n    pass", limits=QUICK)
    assert not r.ok and r.error.startswith("SyntaxError:") and "line 1" in r.error
    r = run_python("x = 1\ny = x / 0", limits=QUICK)
    assert not r.ok and r.error == "ZeroDivisionError: division by zero (line 2)"
    r = run_python("result = undefined_name", limits=QUICK)
    assert r.error == "NameError: name 'undefined_name' is not defined (line 1)"
    r = run_python("result = {1, 2}", limits=QUICK)
    assert not r.ok and r.error.startswith("result is not JSON-serialisable")


@needs_bwrap
def test_the_scratch_folder_is_the_working_directory_and_comes_back(tmp_path):
    (tmp_path / "input.txt").write_text("21")
    code = ("import os\nn = int(open('input.txt').read())\nopen('out.txt', 'w').write(str(2 * n))\n"
            "os.symlink('/etc/passwd', 'link')\nos.mkfifo('fifo')\nresult = os.getcwd()")
    r = run_python(code, scratch=tmp_path, limits=QUICK)
    assert r.ok and r.value == "/scratch"
    assert (tmp_path / "out.txt").read_text() == "42"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["input.txt", "out.txt"]  # no link, no pipe


@needs_bwrap
def test_the_limits_end_a_run_with_their_own_message():
    start = time.monotonic()
    r = run_python("while True:\n    pass", limits=SandboxLimits(wall_seconds=1))
    assert r.error == "timed out after 1 s" and r.killed and r.leftover == 0
    assert time.monotonic() - start < 1 + 3
    assert run_python("b = bytearray(1 << 30)", limits=QUICK).error == "memory limit (256 MB) exceeded"
    r = run_python("while True:\n    print('x' * 1000)", limits=QUICK)
    assert r.error == "output over 64 KB cut" and r.killed and len(r.stdout) <= 64 * 1024
    r = run_python("open('big', 'wb').write(b'x' * (17 << 20))", limits=QUICK)
    assert r.error == "file size limit (16 MB) exceeded"


@needs_bwrap
@pytest.mark.parametrize("name", ["fork_bomb", "subprocess_bomb", "infinite_loop", "memory_hog", "huge_output",
                                  "tcp_loopback_parent", "write_outside_scratch", "env_secret", "read_canary_file",
                                  "spawn_background", "daemonize"])
def test_a_hostile_sample_is_contained_and_leaves_nothing(hostile, name):
    report = run_case(CASES[name], hostile, SHORT)
    assert report.status == "contained", report.evidence
    assert report.leftover == 0 and report.seconds <= report.limit_seconds
    expected = {"infinite_loop": "timed out after 2 s", "memory_hog": "memory limit (256 MB) exceeded",
                "huge_output": "output over 64 KB cut"}
    if name in expected:
        assert report.error == expected[name]


@needs_bwrap
def test_the_check_sees_an_escape_when_the_sandbox_is_weakened(hostile, monkeypatch):
    """Bind the host's bait folder in and share the host's network: the same cases must now be caught."""
    bait_dir = os.path.dirname(hostile.ctx["canary_file"])
    real = sandbox._command

    def weakened(*args):
        cmd = real(*args)
        at = cmd.index("--remount-ro")
        return cmd[:at] + ["--bind", bait_dir, bait_dir, "--share-net"] + cmd[at:]

    monkeypatch.setattr(sandbox, "_command", weakened)
    for name, sign in (("read_canary_file", "the secret"), ("write_outside_scratch", "on the host"),
                       ("tcp_loopback_parent", "TCP listener")):
        report = run_case(CASES[name], hostile, SHORT)
        assert report.status == "ESCAPED" and any(sign in e for e in report.evidence), (name, report.evidence)


@needs_bwrap
def test_a_killed_run_leaves_no_process_in_its_namespace(monkeypatch):
    seen = []
    real = sandbox._wait_gone
    monkeypatch.setattr(sandbox, "_wait_gone", lambda ns, t: seen.append(ns) or real(ns, t))
    r = run_python("import os, time\nfor _ in range(4):\n    os.fork()\ntime.sleep(60)", limits=SHORT)
    assert r.killed and r.error == "timed out after 2 s" and r.leftover == 0
    assert seen and seen[0] and namespace_members(seen[0]) == []


def test_a_missing_bwrap_is_a_typed_error_never_an_unsandboxed_run(monkeypatch, tmp_path):
    monkeypatch.setenv(BWRAP_ENV, str(tmp_path / "no-such-bwrap"))
    with pytest.raises(SandboxUnavailable, match="apt-get install bubblewrap"):
        run_python(f"open({str(tmp_path / 'ran')!r}, 'w').write('x')")
    assert not (tmp_path / "ran").exists()


def test_the_corpus_is_large_and_well_formed():
    assert len(HOSTILE_CASES) >= 30 and len(CASES) == len(HOSTILE_CASES)
    for case in HOSTILE_CASES:
        assert case.contained and compile(case.code, case.name, "exec")


@needs_bwrap
def test_bench_sandbox_ends_with_its_json_line():
    from lamforge.cli import app

    result = CliRunner().invoke(app, ["bench", "sandbox", "--limit", "3", "--wall-seconds", "2", "--json"])
    assert result.exit_code == 0, result.output
    line = json.loads(result.output.strip().splitlines()[-1])
    assert line["sandbox"]["cases"] == 3 and line["sandbox"]["escapes"] == 0
    assert line["sandbox"]["leftover_processes"] == 0


@needs_bwrap
@pytest.mark.slow
def test_the_whole_hostile_corpus_is_contained():
    reports = check_containment(SHORT)
    s = summary(reports)
    assert s["cases"] == len(HOSTILE_CASES) >= 30
    assert s["escapes"] == 0 and s["inconclusive"] == 0 and s["leftover_processes"] == 0, \
        [(r.name, r.evidence) for r in reports if r.status != "contained"]
    assert all(r.seconds <= r.limit_seconds for r in reports)
