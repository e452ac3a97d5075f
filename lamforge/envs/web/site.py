"""A site: the web application a :class:`~lamforge.envs.web.env.WebEnv` drives, separate from the
browser and from the observation/action machinery (BrowserGym's task: setup, validate, teardown).

A site says where an episode starts (possibly after starting a loopback server), what part of the
page the observation lists, what state a task's success check reads, and whether the page ended
the episode by itself. Task families (``lamforge.envs.tasks.TaskFamily``) hold the requests, checks
and reference solutions, exactly as for every other environment.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

from lamforge.core.schemas import Task


@dataclass
class WebState:
    """What a web task's check reads: where the browser is, and whatever the site adds (a row of its
    database, the page's own reward, ...)."""

    url: str
    title: str
    data: dict[str, Any] = field(default_factory=dict)


class Site(ABC):
    """Subclass it, give it task families, and register an env class whose ``site_class`` is it.

    Minimal site over a loopback server (see ``lamforge/envs/web/__init__.py`` for the whole recipe)::

        class ShopSite(Site):
            name = "shop"

            def start(self):                      # once per environment, before the first episode
                self.server = StaticServer(Path(__file__).parent / "pages")

            def stop(self):
                self.server.close()

            def setup(self, page, task):          # every reset, and on restore before a replay
                page.goto(self.server.url("index.html"))
                return None                       # or the request text, when the page states it

            def judge(self, page, task):          # what the task's check reads
                return WebState(page.url, page.title(), {"cart": page.evaluate("window.cart")})
    """

    name: ClassVar[str] = "site"
    observe_root: ClassVar[str | None] = None  # CSS selector of the part of the page that is listed
    exclude: ClassVar[tuple[str, ...]] = ()  # CSS selectors left out of the observation
    viewport: ClassVar[dict[str, int]] = {"width": 800, "height": 600}
    # a new tab per episode (no history shared between episodes); a site that always starts on the
    # same page and has no links (MiniWoB) may keep the tab: ~0.3 s faster per reset and restore
    fresh_tab: ClassVar[bool] = True

    def start(self) -> None:
        """Start what the site needs (a loopback server, a database); called once, lazily."""

    def stop(self) -> None:
        """Undo :meth:`start`; called by ``env.close()``."""

    @abstractmethod
    def setup(self, page: Any, task: Task) -> str | None:
        """Bring ``page`` to the task's start (navigate, seed, fill the database). Must give the same
        start for the same task every time: state restore replays actions from here. Returns the
        request when the page states it (MiniWoB's utterance), else None (``task.request`` stands)."""

    def judge(self, page: Any, task: Task) -> WebState:
        return WebState(url=page.url, title=page.title())

    def finished(self, page: Any) -> bool:
        """True when the page itself ended the episode (a task page that judges on submit)."""
        return False

    def summary(self, title: str, url: str) -> str:
        """The observation's one-line state."""
        return f'page "{title}" at {url}'
