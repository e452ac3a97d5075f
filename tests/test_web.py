"""The web environment in a real headless Chromium on loopback pages (no network), and MiniWoB++."""

from __future__ import annotations

import json
import os
import random
import time
from pathlib import Path

import pytest

from lamforge.core.schemas import Action, Status, Task
from lamforge.envs.web.browser import chromium_path

pytestmark = pytest.mark.skipif(chromium_path() is None,
                                reason="no Chromium at /usr/bin/chromium (run `make chromium`)")

PAGES = {
    "index.html": """<!DOCTYPE html><html><head><title>Order form</title></head><body>
<h1>Order</h1>
<label for="name">Name</label><input id="name" type="text">
<select id="size" aria-label="Size"><option>Small</option><option>Medium</option><option>Large</option></select>
<label><input type="checkbox" id="gift"> Gift wrap</label>
<button onclick="document.getElementById('out').textContent='Ordered '+document.getElementById('name').value+' '+document.getElementById('size').value">Submit</button>
<button onclick="document.getElementById('victim').remove()">Remove victim</button>
<button id="victim">Victim</button>
<a href="other.html">Next page</a>
<div id="out"></div>
<div style="display:none"><button>Hidden</button></div>
<div style="height:3000px"></div><p>Bottom</p>
</body></html>""",
    "other.html": """<!DOCTYPE html><html><head><title>Other</title></head><body><p>Second page</p>
<a href="index.html">Home</a></body></html>""",
    "nav.html": """<!DOCTYPE html><html><head><title>Trap</title></head><body>
<input aria-label="Trap" onfocus="location.href='other.html'"></body></html>""",
}


@pytest.fixture(scope="module")
def site_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("site")
    for name, html in PAGES.items():
        (folder / name).write_text(html, encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def env(site_dir):
    from lamforge.envs.web import Site, StaticServer, WebEnv

    class LocalSite(Site):
        def start(self):
            self.server = StaticServer(site_dir)

        def stop(self):
            self.server.close()

        def setup(self, page, task):
            page.goto(self.server.url(task.params.get("page", "index.html")))

    environment = WebEnv(site=LocalSite(), max_steps=50)
    yield environment
    environment.close()


def _task(page: str = "index.html") -> Task:
    return Task(id=f"t-{page}", family="free_request", request="Order a large size for Alice",
                env_id="lamforge/Office-v0", params={"page": page})


def _step(env, function, label=None, **args):
    return env.step(Action(function=function, control_label=label, args=args))[0]


def _labels(obs):
    return {c.name: c.label for c in obs.controls}


def test_observation_lists_elements_with_stable_labels(env):
    obs, _ = env.reset(options={"task": _task()})
    text = obs.render()
    assert 'page "Order form"' in obs.state
    assert "textbox Name" in text and "combobox Size: Small {Small|Medium|Large}" in text
    assert "checkbox Gift wrap" in text and "button Submit" in text and "link Next page" in text
    assert "Hidden" not in text  # display: none is not listed
    assert "label Name" not in text  # a label names its control instead of being listed twice
    before = _labels(obs)
    after = _labels(_step(env, "click", before["Remove victim"]))
    assert "Victim" not in after
    assert {k: v for k, v in before.items() if k != "Victim"} == after  # nobody else moved


def test_click_fill_select_press_scroll_back(env):
    obs, _ = env.reset(options={"task": _task()})
    lab = _labels(obs)
    assert _step(env, "fill", lab["Name"], text="Alice").last_action_error is None
    assert _step(env, "select_option", lab["Size"], option="large").last_action_error is None  # any case
    obs = _step(env, "click", lab["Gift wrap"])
    assert obs.control(lab["Gift wrap"]).value == "checked"
    obs = _step(env, "click", lab["Submit"])
    assert any(c.name == "Ordered Alice Large" for c in obs.controls)
    assert obs.control(lab["Name"]).value == "Alice"
    _step(env, "click", lab["Name"])
    assert _step(env, "press_key", key="Tab").last_action_error is None
    assert env.page.evaluate("document.activeElement.tagName") == "SELECT"  # Tab moved the focus on
    assert env.page.evaluate("window.scrollY") == 0
    assert _step(env, "scroll", lab["Order"], direction="down").last_action_error is None
    assert env.page.evaluate("window.scrollY") > 0
    obs = _step(env, "click", lab["Next page"])
    assert obs.state.startswith('page "Other"')
    assert min(c.label for c in obs.controls) > max(lab.values())  # labels are never reused in an episode
    obs = _step(env, "go_back")
    assert obs.state.startswith('page "Order form"')
    env.reset(options={"task": _task()})
    assert len(env._context.pages) == 1  # a fresh tab per episode, the last one closed


def test_bad_actions_come_back_as_last_action_error(env):
    obs, _ = env.reset(options={"task": _task()})
    lab = _labels(obs)
    _step(env, "click", lab["Remove victim"])
    gone = _step(env, "click", lab["Victim"])  # a label from an earlier screen whose element is gone
    assert "gone" in gone.last_action_error
    assert "no element [999]" in _step(env, "click", 999).last_action_error
    assert "not a text field" in _step(env, "fill", lab["Submit"], text="x").last_action_error
    assert "no option 'Huge'" in _step(env, "select_option", lab["Size"], option="Huge").last_action_error
    assert "not a drop-down" in _step(env, "select_option", lab["Submit"], option="x").last_action_error
    assert "unknown key" in _step(env, "press_key", key="NotAKey").last_action_error
    assert "unknown function" in _step(env, "drag", lab["Submit"]).last_action_error
    assert "missing argument 'text'" in _step(env, "fill", lab["Name"]).last_action_error
    obs, _ = env.reset(options={"task": _task()})
    assert "no previous page" in _step(env, "go_back").last_action_error
    assert not env._done  # none of that ended the episode


def test_navigation_mid_action_is_reported(env):
    obs, _ = env.reset(options={"task": _task("nav.html")})
    obs = _step(env, "fill", _labels(obs)["Trap"], text="hello")
    assert "navigated away while fill ran" in obs.last_action_error
    assert obs.state.startswith('page "Other"')  # and the agent sees where it is now


def test_clone_and_restore_replay_the_episode(env):
    obs, _ = env.reset(options={"task": _task()})
    lab = _labels(obs)
    _step(env, "fill", lab["Name"], text="Bob")
    saved = env.clone_state()
    _step(env, "fill", lab["Name"], text="Carol")
    _step(env, "click", lab["Next page"])
    restored = env.restore_state(saved)
    assert restored.control(lab["Name"]).value == "Bob"
    live, *_ = env.step(Action(function="click", control_label=lab["Submit"]))
    assert any(c.name == "Ordered Bob Small" for c in live.controls)  # the page itself is back, same labels


def _chromium_children() -> set[int]:
    """Chromium processes descended from this process."""
    parents: dict[int, int] = {}
    names: dict[int, str] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            names[int(entry)] = Path(f"/proc/{entry}/cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    me, found = os.getpid(), set()
    for pid in parents:
        p = pid
        while p in parents and p not in (0, 1):
            p = parents[p]
            if p == me:
                if "chrom" in names.get(pid, ""):
                    found.add(pid)
                break
    return found


def test_close_leaves_no_chromium_process(site_dir, env):
    from lamforge.envs.web.miniwob.env import MiniWoBEnv
    from lamforge.envs.web.miniwob.tasks import FAMILIES

    env.close()  # the module's env too: the browser stops when the last env of the process closes
    other = MiniWoBEnv()
    other.reset(options={"task": FAMILIES["click-test"].task(1000)})
    assert _chromium_children(), "the browser should be running"
    other.close()
    deadline = time.time() + 10
    while _chromium_children() and time.time() < deadline:
        time.sleep(0.2)
    assert not _chromium_children()


# --- MiniWoB++ ---------------------------------------------------------------------------------

def test_all_125_core_tasks_are_families():
    from lamforge.envs.tasks import families

    fams = families("miniwob")
    assert len(fams) == 125 and "click-test" in fams and not any(n.startswith("flight.") for n in fams)


def test_seeds_split_training_from_evaluation():
    from lamforge.core.errors import TaskNotFound
    from lamforge.envs.web.miniwob.tasks import FAMILIES, TRAIN_SEED_MIN, eval_task

    fam = FAMILIES["enter-text"]
    rng = random.Random(0)
    assert all(fam.sample(rng).params["seed"] >= TRAIN_SEED_MIN for _ in range(200))
    assert not fam.trainable(eval_task("enter-text", 3))
    assert fam.trainable(fam.task(1000))
    with pytest.raises(TaskNotFound):
        eval_task("enter-text", 1000)


@pytest.fixture(scope="module")
def miniwob():
    from lamforge.envs import make

    environment = make("miniwob")
    yield environment
    environment.close()


@pytest.mark.parametrize("name", ["click-test", "enter-text", "click-checkboxes"])
def test_miniwob_scripted_expert_gets_the_reward(miniwob, name):
    from lamforge.agents.expert import ReferenceExpert
    from lamforge.agents.runner import run_episode
    from lamforge.envs.web.miniwob.tasks import FAMILIES

    traj = run_episode(miniwob, ReferenceExpert(), FAMILIES[name].task(1000))
    assert traj.success and traj.outcome.terminated  # the page ended the episode when it judged
    assert traj.task.request and not traj.task.request.startswith("(MiniWoB")  # the page's utterance
    assert traj.steps[-1].reward == 1.0


def test_miniwob_wrong_answer_ends_with_zero_reward(miniwob):
    from lamforge.envs.web.miniwob.tasks import FAMILIES

    obs, _ = miniwob.reset(options={"task": FAMILIES["click-test-2"].task(1001)})
    wanted = obs.request.split("button ")[-1].rstrip(".")
    wrong = next(c for c in obs.controls if c.type == "button" and c.name != wanted)
    obs, reward, terminated, _, info = miniwob.step(Action(function="click", control_label=wrong.label))
    assert terminated and reward == 0.0 and info["success"] is False
    obs, _ = miniwob.reset(options={"task": FAMILIES["click-test-2"].task(1001)})
    obs, reward, terminated, *_ = miniwob.step(Action(status=Status.FINISH))  # FINISH without doing it
    assert terminated and reward == 0.0


def test_search_expert_solves_a_miniwob_task_from_the_reward_alone(miniwob):
    from lamforge.agents.runner import run_episode
    from lamforge.agents.search_expert import SearchExpert
    from lamforge.envs.web.miniwob.tasks import FAMILIES

    agent = SearchExpert(miniwob, budget=20, depth=3)
    traj = run_episode(miniwob, agent, FAMILIES["click-link"].task(1002))
    assert traj.success and agent.last_search.found


def test_bench_miniwob_cli_json(tmp_path):
    from typer.testing import CliRunner

    from lamforge.cli import app

    result = CliRunner().invoke(app, ["bench", "miniwob", "--agent", "expert", "--tasks", "click-test,enter-text",
                                      "--seeds", "2", "--workers", "1", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert summary["episodes"] == 4 and summary["success_rate"] == 1.0
    assert set(summary["per_task"]) == {"click-test", "enter-text"}
    bad = CliRunner().invoke(app, ["bench", "miniwob", "--agent", "expert", "--tasks", "no-such-task"])
    assert bad.exit_code != 0


def test_collection_refuses_evaluation_seeds_and_draws_no_split(tmp_path):
    from lamforge.core.errors import LamforgeError
    from lamforge.data.collect import collect_trajectories
    from lamforge.data.taskfile import split_pool
    from lamforge.envs.web.miniwob.tasks import TRAIN_SEED_MIN, eval_task

    with pytest.raises(LamforgeError, match="reserved for evaluation"):
        collect_trajectories([eval_task("click-test", 0)], tmp_path / "data", env_name="miniwob")
    train, heldout, stats = split_pool("miniwob", 250, seed=0)
    assert len(train) == 250 and heldout == [] and "external" in stats["heldout"]
    assert len({t.family for t in train}) == 125 and all(t.params["seed"] >= TRAIN_SEED_MIN for t in train)


def test_resets_keep_one_tab(miniwob):
    from lamforge.envs.web.miniwob.tasks import FAMILIES

    for seed in range(1000, 1004):
        miniwob.reset(options={"task": FAMILIES["click-test"].task(seed)})
    assert len(miniwob.unwrapped._context.pages) == 1  # one tab per env, reused (no renderer left behind)
