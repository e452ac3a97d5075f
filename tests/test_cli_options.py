"""Every count the CLI takes (tasks, steps, workers, seeds per family, limits) is refused when it is not
positive, in every command: the test walks the whole command tree, so a new command cannot forget."""

from __future__ import annotations

import subprocess
import sys

import pytest
import typer
from typer.testing import CliRunner

from lamforge.cli import NOT_COUNTS, app


def _walk(command, path=()):
    if hasattr(command, "commands"):
        for name, sub in command.commands.items():
            yield from _walk(sub, (*path, name))
    else:
        yield path, command


def _int_options() -> list[tuple[tuple[str, ...], object]]:
    found = []
    for path, command in _walk(typer.main.get_command(app)):
        for param in command.params:
            annotation = param.type_descriptor.annotation
            if annotation is int or int in getattr(annotation, "__args__", ()):
                found.append((path, param))
    return found


INT_OPTIONS = _int_options()
COUNTS = [(path, p) for path, p in INT_OPTIONS if p.name not in NOT_COUNTS]


def test_the_walk_sees_the_whole_tree():
    paths = {" ".join(path) for path, _ in INT_OPTIONS}
    assert {"run", "eval", "forge", "collect trajectories", "collect tool-calls", "bench miniwob",
            "bench search-expert"} <= paths
    assert len(COUNTS) >= 35


@pytest.mark.parametrize(("path", "param"), INT_OPTIONS, ids=[f"{' '.join(p)} {o.name}" for p, o in INT_OPTIONS])
def test_every_integer_option_has_its_range(path, param):
    if param.name in NOT_COUNTS:
        assert (param.min, param.max) == NOT_COUNTS[param.name]
    else:
        assert param.min == 1, f"`lamforge {' '.join(path)} {param.opts[0]}` is a count and must be at least 1"


@pytest.mark.parametrize(("path", "param"), COUNTS, ids=[f"{' '.join(p)} {o.name}" for p, o in COUNTS])
@pytest.mark.parametrize("value", ["0", "-5"])
def test_a_count_that_is_not_positive_is_refused_before_anything_runs(path, param, value):
    option = param.opts[0]
    result = CliRunner().invoke(app, [*path, option, value])
    assert result.exit_code == 2, result.output
    # rich wraps the message inside a box at 80 columns: read it as one line
    said = " ".join(result.output.replace("│", " ").split())
    assert f"Invalid value for '{option}'" in said and "greater than or equal to 1" in said


def test_collect_with_a_negative_count_collects_nothing(tmp_path):
    """The case of issue 19: `--n -5` collected 43 trajectories and exited 0."""
    out = tmp_path / "data"
    for bad in (["--n", "-5"], ["--workers", "0"], ["--limit", "0"], ["--max-steps", "-1"]):
        proc = subprocess.run([sys.executable, "-m", "lamforge.cli", "collect", "trajectories", "--out", str(out),
                               *bad], capture_output=True, text=True, timeout=120)
        assert proc.returncode == 2 and bad[0] in proc.stderr, proc.stderr
        assert not out.exists()


def test_options_that_are_not_counts_keep_zero():
    result = CliRunner().invoke(app, ["run", "--seed", "-3", "--limit", "1", "--max-steps", "1", "--json"])
    assert result.exit_code == 0, result.output
    refused = CliRunner().invoke(app, ["serve", "--port", "70000"])
    assert refused.exit_code == 2 and "--port" in refused.output
