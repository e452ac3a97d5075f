"""MiniWoB++ pages (shipped by the PyPI ``miniwob`` package) served on loopback and driven through
the task's own JavaScript, as the package's Python code and BrowserGym do it: ``Math.seedrandom``,
``core.startEpisodeReal()``, the utterance from ``core.getUtterance()``, the verdict from
``WOB_DONE_GLOBAL`` / ``WOB_RAW_REWARD_GLOBAL``.

The page's 10-second episode clock is switched off (``core.EPISODE_MAX_TIME``), as in BrowserGym:
the limit that counts is the number of steps, and a slow model must not lose on wall time.
"""

from __future__ import annotations

import importlib.util
import re
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar

from lamforge.core.errors import DependencyNotInstalled
from lamforge.core.schemas import Task
from lamforge.envs.web.browser import StaticServer
from lamforge.envs.web.site import Site, WebState

START_JS = r"""
(seed) => {
  Math.seedrandom(seed);
  core.EPISODE_MAX_TIME = 1e9;
  core.startEpisodeReal();
}
"""
READY_JS = "() => typeof WOB_TASK_READY === 'undefined' || WOB_TASK_READY"
STATE_JS = r"""
() => typeof WOB_DONE_GLOBAL === 'undefined' ? {done: false, reward: 0, raw_reward: 0, reason: 'not a task page'} : ({done: WOB_DONE_GLOBAL, reward: WOB_REWARD_GLOBAL, raw_reward: WOB_RAW_REWARD_GLOBAL,
        reason: WOB_REWARD_REASON === null || WOB_REWARD_REASON === undefined ? null : String(WOB_REWARD_REASON)})
"""


def html_dir() -> Path:
    """The package's page folder, found without importing it (its import registers 128 gym envs)."""
    spec = importlib.util.find_spec("miniwob")
    if spec is None or not spec.submodule_search_locations:
        raise DependencyNotInstalled("MiniWoB++ needs the `miniwob` package: pip install miniwob==1.1.0")
    return Path(spec.submodule_search_locations[0]) / "html"


@lru_cache(maxsize=1)
def core_tasks() -> tuple[str, ...]:
    """The 125 core MiniWoB++ tasks: every environment the package registers but the three
    ``flight.*`` sites (read from its registration file, so nothing is registered twice)."""
    text = (html_dir().parent / "registration.py").read_text(encoding="utf-8")
    names = re.findall(r'id="miniwob/([^"]+)-v1"', text)
    return tuple(sorted(n for n in names if not n.startswith("flight.")))


class MiniWoBSite(Site):
    name = "miniwob"
    observe_root = None  # the whole body: jQuery UI dialogs and menus are appended outside #wrap
    exclude = ("#query", "#reward-display", "#sync-task-cover", "#click-canvas")
    viewport: ClassVar[dict[str, int]] = {"width": 500, "height": 400}
    fresh_tab = False  # every episode starts by reloading its task page; the pages have no links

    def __init__(self) -> None:
        self.server: StaticServer | None = None

    def start(self) -> None:
        self.server = StaticServer(html_dir())

    def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None

    def setup(self, page: Any, task: Task) -> str:
        name, seed = task.params["task"], int(task.params["seed"])
        # A fresh document every time: a few pages keep state across episodes (jQuery widgets,
        # globals), and a replayed restore must start exactly where the episode started.
        url = self.server.url(f"miniwob/{name}.html")
        if page.url == url:
            page.reload(wait_until="load", timeout=20000)  # no new history entry
        else:
            page.goto(url, wait_until="load", timeout=20000)  # a busy machine is slow
        page.evaluate(START_JS, seed)
        page.wait_for_function(READY_JS, timeout=5000)
        response = page.evaluate("() => core.getUtterance()")
        return response["utterance"] if isinstance(response, dict) else str(response)

    def judge(self, page: Any, task: Task) -> WebState:
        return WebState(url=page.url, title=page.title(), data=page.evaluate(STATE_JS))

    def finished(self, page: Any) -> bool:
        return bool(page.evaluate("() => typeof WOB_DONE_GLOBAL !== 'undefined' && WOB_DONE_GLOBAL"))

    def summary(self, title: str, url: str) -> str:
        return f'page "{title}"'
