"""``WebEnv``: a :class:`~lamforge.envs.base.LamEnv` over a real headless Chromium (Playwright).

    env = MiniWoBEnv()                      # or any WebEnv subclass with a site_class
    obs, info = env.reset(options={"task": task})
    print(obs.render())                     # State: page "Click Button Task" at ...
                                            # [3] button Submit   [4] textbox tt: hello
    obs, reward, terminated, truncated, info = env.step(Action(function="click", control_label=3))

State cloning: a live page cannot be copied, so ``clone_state`` records the actions taken since
``reset`` and ``restore_state`` sets the site up again for the same task (same seed) and replays
them. That is exact for pages whose behaviour depends only on the seed and the actions (MiniWoB's,
and loopback sites that reset their data in ``setup``), which is what the SearchExpert needs.
"""

from __future__ import annotations

import contextlib
import sys
from typing import Any, ClassVar

from lamforge.core.errors import ActionError
from lamforge.core.schemas import Action, Control, Task
from lamforge.envs.base import LamEnv
from lamforge.envs.web import browser, dom
from lamforge.envs.web.actions import WEB_ACTIONS, PageActions
from lamforge.envs.web.site import Site, WebState


class WebEnv(LamEnv):
    """Generic web environment; a subclass names its ``site_class`` (or pass ``site=``)."""

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["ansi"]}
    env_id = "lamforge/Web-v0"
    action_set = WEB_ACTIONS
    site_class: ClassVar[type[Site] | None] = None

    def __init__(self, render_mode: str | None = None, max_steps: int = 20, site: Site | None = None,
                 max_controls: int = 150):
        super().__init__(render_mode=render_mode, max_steps=max_steps)
        if site is None:
            if self.site_class is None:
                raise TypeError(f"{type(self).__name__} needs a site: pass site= or set site_class")
            site = self.site_class()
        self.site = site
        self.max_controls = max_controls
        self._page = None
        self._context = None
        self._has_browser = False
        self._browser = None
        self._site_started = False
        self._history: list[Action] = []
        self._next_label = 1

    # --- browser lifecycle -----------------------------------------------------------------
    @property
    def page(self):
        """The live Playwright page (started on first use)."""
        if self._page is None or self._page.is_closed():
            if not self._has_browser:
                self._browser = browser.acquire()
                self._has_browser = True
            b = self._browser
            if not self._site_started:
                self.site.start()
                self._site_started = True
            if self._context is None:
                self._context = b.new_context(viewport=dict(self.site.viewport))
            self._page = self._context.new_page()
            self._page.set_default_timeout(5000)
        return self._page

    def close(self) -> None:
        if self._context is not None:
            from playwright.sync_api import Error

            with contextlib.suppress(Error):  # the browser is already gone
                self._context.close()
        self._page = self._context = None
        if self._site_started:
            self.site.stop()
            self._site_started = False
        if self._has_browser:
            browser.release()
            self._has_browser = False
            self._browser = None
        super().close()

    def __del__(self):  # a forgotten env must not keep the browser alive
        if sys.is_finalizing():
            return  # the atexit handler of lamforge.envs.web.browser has stopped the browser already
        import greenlet

        if greenlet.getcurrent().parent is not None:
            # collected while Playwright's dispatcher greenlet runs: a sync Playwright call from here
            # re-enters its event loop and hangs the process for ever (seen in a forge's phase 3).
            # Leave this tab to the browser's atexit shutdown instead.
            return
        with contextlib.suppress(Exception):
            self.close()

    # --- LamEnv hooks ----------------------------------------------------------------------
    def _setup(self, task: Task) -> None:
        self._history = []
        request = self._start_page(task)
        if request:
            self.task = task.model_copy(update={"request": request})

    def _start_page(self, task: Task) -> str | None:
        # a fresh tab per start: no history carried over from the last episode (or from the branch a
        # restore abandons); the context, and so the browser's cache of the site's files, stays
        if self.site.fresh_tab and self._page is not None:
            if not self._page.is_closed():
                self._page.close()
            self._page = None
        page = self.page
        request = self.site.setup(page, task)
        page.evaluate(dom.RESET_LABELS_JS)
        self._next_label = 1
        return request

    def _observe(self) -> tuple[list[Control], str]:
        from playwright.sync_api import Error

        opts = {"root": self.site.observe_root, "exclude": list(self.site.exclude), "max": self.max_controls,
                "next": self._next_label}
        for _ in range(3):  # a navigation may be under way: wait for the new document, then read it
            try:
                self.page.wait_for_load_state("domcontentloaded", timeout=5000)
                raw = self.page.evaluate(dom.OBSERVE_JS, opts)
                break
            except Error:
                continue
        else:
            return [], "the page is not responding"
        self._next_label = raw["next"]
        return dom.controls_from(raw["controls"]), self.site.summary(raw["title"], raw["url"])

    def _target(self) -> PageActions:
        return PageActions(self.page)

    def action_risk(self, action: Action) -> str | None:
        """Placing an order, paying and deleting on a web page cannot be taken back."""
        import re

        name = self.control_name(action.control_label) or ""
        if action.function == "click" and re.search(r"\b(place (the )?order|pay|checkout|delete|remove account)\b",
                                                     name, re.I):
            return f"'{name}' cannot be undone"
        return super().action_risk(action)

    def _execute(self, action: Action) -> str | None:
        self._history.append(action.model_copy(deep=True))
        return super()._execute(action)

    def _judge_state(self) -> WebState:
        return self.site.judge(self.page, self.task)

    def _app_finished(self) -> bool:
        return self.site.finished(self.page)

    def _snapshot(self) -> list[Action]:
        return [a.model_copy(deep=True) for a in self._history]

    def _restore(self, snapshot: list[Action]) -> None:
        """Replay: the same start for the same task, then the same actions (errors included)."""
        self._start_page(self.task)
        target = self._target()
        self._observe()  # labels are given when observed: observe as the episode did, after each action
        for action in snapshot:
            try:
                self.action_set.execute(action, target)
            except ActionError:
                pass
            self._observe()
        self._history = [a.model_copy(deep=True) for a in snapshot]

    def search_candidates(self, obs, request):
        """The SearchExpert's moves on a web page (see ``lamforge.envs.web.search``)."""
        from lamforge.envs.web.search import web_candidates

        return web_candidates(obs, request)

    # --- extras ----------------------------------------------------------------------------
    def screenshot(self, path: str | None = None) -> bytes:
        """PNG of the page as the browser shows it (for people and for multimodal models)."""
        return self.page.screenshot(path=path)

