"""Task-plan extraction (lamforge.data.plans) and the Office manual it reads."""

from __future__ import annotations

import re

import pytest

from lamforge.core.errors import TaskFileError
from lamforge.core.schemas import TaskPlan
from lamforge.envs import manual_dir
from lamforge.data.plans import extract_plans, read_plans, request, write_plans
from lamforge.envs.office.ui import DIALOGS, RIBBON, SHORTCUTS, TABS

MANUAL = manual_dir("office")
NOT_HOW_TO = ("about-this-manual.md", "keyboard-shortcuts.md", "whats-new.md", "glossary.md")
STEP = re.compile(r"^ {0,3}\d+[.)]\s")


def _ui_names() -> set[str]:
    names = set(TABS)
    for widgets in RIBBON.values():
        for w in widgets:
            names.add(w.name)
            names.update(w.options)
    for d in DIALOGS.values():
        names.add(d.name)
        names.update(d.fields)
        names.update(d.buttons)
    return names


def _step_lines():
    """(file name, line) for every numbered step line of the manual's markdown source."""
    for path in sorted(MANUAL.glob("*.md")):
        fenced = False
        for line in path.read_text(encoding="utf-8").splitlines():
            fenced ^= line.lstrip().startswith("```")
            if not fenced and STEP.match(line):
                yield path.name, line


@pytest.fixture(scope="module")
def manual_pairs() -> list[TaskPlan]:
    return extract_plans(MANUAL)


def test_manual_yields_clean_pairs(manual_pairs):
    assert len(list(MANUAL.glob("*.md"))) >= 45
    assert len(manual_pairs) >= 40
    assert len({p.task_id for p in manual_pairs}) == len(manual_pairs)
    for pair in manual_pairs:
        assert len(pair.plan) >= 2, pair.task_id
        assert pair.task.endswith(".") and pair.family is None
        assert (MANUAL / pair.source).is_file()
        for text in [pair.task, *pair.plan]:
            assert "**" not in text and "`" not in text and "](" not in text, (pair.task_id, text)
            assert text == " ".join(text.split())


def test_manual_pair_content(manual_pairs):
    by_id = {p.task_id: p for p in manual_pairs}
    highlight = by_id["highlight-text"]
    assert highlight.task == "Highlight text."
    assert highlight.source == "highlight-text.md"
    assert highlight.plan == ["Select the text you want to highlight.", "On the Home tab, open Highlight.",
                              "Choose a colour: Yellow, Green, Turquoise, Pink or Gray."]
    # a second numbered section gives a second pair
    assert by_id["underline-text-2"].task == "Underline text (Using the keyboard)."
    assert by_id["underline-text-2"].plan[-1] == "Press Ctrl+U."
    # links are reduced to their text
    assert by_id["clear-a-table-cell"].plan[0] == "Click the table to show its cells (see Fill in a table cell)."


def test_non_how_to_pages_yield_nothing(manual_pairs):
    sources = {p.source for p in manual_pairs}
    for name in NOT_HOW_TO:
        assert (MANUAL / name).is_file()
        assert name not in sources


def test_manual_names_only_real_controls():
    """Every bold name in a step is a tab, control, option, dialog, field or button of the UI, and
    every key in backticks is a shortcut the app understands: the manual cannot drift from ui.py."""
    names, seen = _ui_names(), set()
    for file, line in _step_lines():
        for bold in re.findall(r"\*\*(.+?)\*\*", line):
            assert bold in names, f"{file}: **{bold}** is not in lamforge/envs/office/ui.py"
            seen.add(bold)
        for key in re.findall(r"`([^`]+)`", line):
            assert key.lower() in SHORTCUTS, f"{file}: `{key}` is not a shortcut of the app"
    # and the other way round: every ribbon control is explained somewhere
    missing = {w.name for ws in RIBBON.values() for w in ws} - seen
    assert not missing, f"no manual step names {sorted(missing)}"


def test_html_page(tmp_path):
    (tmp_path / "insert-table.html").write_text("""<!doctype html>
<html><head><title>Insert a table - Help</title><style>ol { color: red }</style></head>
<body>
<nav><ol><li>Help</li><li>Tables</li></ol></nav>
<h1>How to insert a table</h1>
<p>Tables arrange information in rows &amp; columns.</p>
<h2>Steps</h2>
<ol>
  <li>Click the paragraph after which the table should appear.
  <li>On the <b>Insert</b> tab, click
      <b>Table</b>.</li>
  <li>Type the number of rows in <b>Rows</b>:
      <ul><li>at most 50</li></ul>
  </li>
  <li>Click <code>OK</code>.</li>
</ol>
<ol><li>A second list in the same section</li><li>is ignored</li></ol>
<h2>Using the keyboard</h2>
<ol><li>Open the dialog.</li><li>Press <kbd>Enter</kbd>.</li></ol>
<footer><ol><li>Contact</li><li>Privacy</li></ol></footer>
</body></html>""", encoding="utf-8")
    pairs = extract_plans(tmp_path)
    assert [(p.task_id, p.task) for p in pairs] == [
        ("insert-table", "Insert a table."), ("insert-table-2", "Insert a table (Using the keyboard).")]
    assert pairs[0].plan == ["Click the paragraph after which the table should appear.",
                             "On the Insert tab, click Table.", "Type the number of rows in Rows:",
                             "Click OK."]
    assert pairs[1].plan == ["Open the dialog.", "Press Enter."]
    assert pairs[0].source == "insert-table.html"


def test_markdown_page_with_two_numbered_sections(tmp_path):
    (tmp_path / "guide").mkdir()
    (tmp_path / "guide" / "bold.markdown").write_text("""---
layout: help
---
# Make text **bold**

Intro with a number 1. that is not a list.

## Steps

1. Select the *words* you want,
   then look at the ribbon.
2. Click [**Bold**](https://example.com/bold) on the `Home` tab; save as final_version.docx.
   - nested detail that is not a step

Some closing words.

3. A later list in the same section is ignored.

## Using the keyboard

1. Select the words.
2. Press `Ctrl+B`.

## Tips

- Bold is a switch.
""", encoding="utf-8")
    (tmp_path / "notes.md").write_text("# Notes\n\n- just\n- bullets\n\n```\n1. code, not a step\n2. no\n```\n")
    pairs = extract_plans(tmp_path)
    assert [(p.task_id, p.task, p.source) for p in pairs] == [
        ("bold", "Make text bold.", "guide/bold.markdown"),
        ("bold-2", "Make text bold (Using the keyboard).", "guide/bold.markdown")]
    assert pairs[0].plan == ["Select the words you want, then look at the ribbon.",
                             "Click Bold on the Home tab; save as final_version.docx."]
    assert pairs[1].plan == ["Select the words.", "Press Ctrl+B."]


def test_same_file_name_in_two_folders(tmp_path):
    for folder in ("word", "excel"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "index.md").write_text("# Save\n\n1. Open File.\n2. Click Save.\n")
    assert [p.task_id for p in extract_plans(tmp_path)] == ["excel/index", "word/index"]


def test_request_wording():
    assert request("Highlight text") == "Highlight text."
    assert request("How do I insert a table?") == "Insert a table."
    assert request("how to save a document") == "Save a document."


def test_invalid_utf8_names_the_file(tmp_path):
    (tmp_path / "good.md").write_text("# Bold\n\n1. Select.\n2. Click Bold.\n")
    bad = tmp_path / "bad.md"
    bad.write_bytes(b"# Title\n\n1. Caf\xe9 step\n2. Two\n")
    with pytest.raises(TaskFileError) as info:
        extract_plans(tmp_path)
    assert info.value.path == bad and info.value.line == 3
    assert "bad.md" in str(info.value)


def test_missing_or_empty_folder(tmp_path):
    with pytest.raises(TaskFileError, match="no such folder"):
        extract_plans(tmp_path / "nowhere")
    with pytest.raises(TaskFileError, match="no documentation files"):
        extract_plans(tmp_path)
    (tmp_path / "file.md").write_text("# A\n")
    with pytest.raises(TaskFileError, match="not a folder"):
        extract_plans(tmp_path / "file.md")


def test_write_read_round_trip(tmp_path, manual_pairs):
    path = write_plans(manual_pairs, tmp_path / "out" / "plans.jsonl")
    assert path.read_text(encoding="utf-8").count("\n") == len(manual_pairs)
    assert read_plans(path) == manual_pairs


def test_read_plans_reports_the_broken_line(tmp_path):
    good = TaskPlan(task_id="a", task="Do it.", plan=["One.", "Two."]).model_dump_json()
    path = tmp_path / "plans.jsonl"
    path.write_text(f"{good}\n\n{good}\n{{\"task_id\": \"b\", \"task\": \"x\"\n{good}\n", encoding="utf-8")
    with pytest.raises(TaskFileError) as info:
        read_plans(path)
    assert info.value.line == 4 and str(path) in str(info.value)
    path.write_text(f'{good}\n{{"task_id": "b", "task": "x"}}\n', encoding="utf-8")
    with pytest.raises(TaskFileError, match=r"plans.jsonl:2: .*plan"):
        read_plans(path)
    with pytest.raises(TaskFileError):
        read_plans(tmp_path / "missing.jsonl")


def test_a_model_backend_extracts_pages_the_rules_cannot(tmp_path):
    from lamforge.models.base import ChatBackend, ChatResult

    class Scripted(ChatBackend):
        name = "scripted"

        def chat(self, messages, **kw):
            page = messages[0]["content"]
            text = ("Make a title bold\n1. Select the title.\n2. Click **Bold** on the Home tab."
                    if "title" in page else "NONE")
            return ChatResult(text, 0, 0, 0.0)

    (tmp_path / "prose.md").write_text("# Tips\nTo make the title stand out, select it and press Bold.\n")
    (tmp_path / "about.md").write_text("# About\nThis manual was written in 2025.\n")
    (tmp_path / "howto.md").write_text("# Italic text\n\n## Steps\n1. Select text.\n2. Click Italic.\n")
    pairs = extract_plans(tmp_path, backend=Scripted())
    by_source = {p.source: p for p in pairs}
    assert set(by_source) == {"prose.md", "howto.md"}
    assert by_source["prose.md"].plan == ["Select the title.", "Click Bold on the Home tab."]


@pytest.mark.parametrize("env_name,expert", [("office", "reference"), ("office", "detour"), ("service", "reference")])
def test_a_training_row_shows_the_plan_as_the_agent_shows_it_at_run_time(env_name, expert):
    """Each user turn of an expert's training row must be the prompt the runtime agent (planning
    "start") sees at that step: the whole plan first, and no "New plan" while the plan is kept. The
    expert once set the plan to the steps left after each action, so rows opened on a plan without
    its first step and shrank it every turn."""
    from lamforge.agents.expert import DetourExpert, ReferenceExpert
    from lamforge.agents.prompting import episode_messages
    from lamforge.agents.runner import run_episode
    from lamforge.envs import make
    from lamforge.envs.tasks import families, sample_tasks

    env = make(env_name)
    action_set, env_id = env.unwrapped.action_set, env.unwrapped.env_id
    planned = 0
    for name in sorted(families(env_id))[:12]:
        task = sample_tasks(env_name, 1, seed=3, family=name)[0]
        traj = run_episode(env, DetourExpert() if expert == "detour" else ReferenceExpert(), task)
        if not traj.initial_plan:
            continue
        planned += 1
        row = episode_messages(env_id, action_set, task.request, traj.steps, None, traj.initial_plan)
        assert not any("New plan" in m["content"] for m in row), name
        for i, step in enumerate(traj.steps):
            live = episode_messages(env_id, action_set, task.request, traj.steps[:i], step.observation,
                                    traj.initial_plan)
            assert live == row[:len(live)], (name, i)
    assert planned >= 8
