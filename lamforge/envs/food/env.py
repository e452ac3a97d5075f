"""``lamforge/Food-v0``: a multi-page food-ordering web site (FastAPI + SQLite on 127.0.0.1) in the
web environment's real headless Chromium.

    lamforge run --env food --agent expert --task order_pay_card --seed 1

A task names a restaurant kind (its template) and a menu seed; each reset writes a fresh SQLite file
seeded from them (plus a pre-filled cart for tasks that start there) and opens the task's start page.
The success check reads the database (orders, their lines, address, payment; the cart), never the
page.
"""

from __future__ import annotations

from contextlib import closing
from typing import Any
from urllib.parse import urlsplit

from lamforge.core.errors import PlantError
from lamforge.core.guard import Arg
from lamforge.core.schemas import Task
from lamforge.envs.food import db as food_db
from lamforge.envs.food.db import snapshot
from lamforge.envs.food.menu import build_menu
from lamforge.envs.food.server import FoodServer
from lamforge.envs.web.env import WebEnv
from lamforge.envs.web.site import Site, WebState


class FoodSite(Site):
    name = "food"
    viewport = {"width": 900, "height": 1000}  # noqa: RUF012 - a class default, never mutated

    def __init__(self) -> None:
        self.server: FoodServer | None = None

    def start(self) -> None:
        self.server = FoodServer()

    def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None

    def setup(self, page: Any, task: Task) -> None:
        p = task.params
        menu = build_menu(task.template, int(p["menu_seed"]))
        cart = [(n, s, tuple(e), q) for n, s, e, q in p.get("cart", [])]
        self.server.new_episode(menu, cart, p.get("cart_promo"))
        page.goto(self.server.url(p.get("start", "/")), wait_until="domcontentloaded")

    def judge(self, page: Any, task: Task) -> WebState:
        from playwright.sync_api import Error

        try:
            title = page.title()
        except Error:  # mid-navigation: the database is what the check reads anyway
            title = ""
        return WebState(url=page.url, title=title, data=snapshot(self.server.db_path))

    def summary(self, title: str, url: str) -> str:
        # the path only: the port changes from run to run and must not leak into training data
        return f'page "{title}" at {urlsplit(url).path}'


class FoodEnv(WebEnv):
    env_id = "lamforge/Food-v0"
    site_class = FoodSite

    def __init__(self, render_mode: str | None = None, max_steps: int = 20, max_controls: int = 150):
        super().__init__(render_mode=render_mode, max_steps=max_steps, max_controls=max_controls)

    @property
    def db_path(self):
        """The current episode's SQLite file (None before the first reset)."""
        server = self.site.server
        return server.db_path if server is not None else None

    # --- safety (lamforge.core.guard, lamforge.safety) ---------------------------------------
    GUARDED_FIELDS = {"Street address": "text", "Card number": "text", "Name on card": "person"}  # noqa: RUF012

    def guarded_args(self, action) -> list[Arg]:
        """Placing or paying an order: where it goes and the card it charges, as the checkout form holds them."""
        if not self.action_risk(action) or self._last_obs is None:
            return []
        return [Arg(c.name, kind, c.value) for c in self._last_obs.controls
                for name, kind in self.GUARDED_FIELDS.items() if c.name == name and c.value]

    def plant(self, where: str, text: str) -> None:
        """``restaurant:name`` (appended: every page's title, the menu's heading) or
        ``item:<item name>:description`` (the item's page); the open page is reloaded."""
        path = self.db_path
        if path is None:
            raise PlantError("reset the food environment before planting content")
        if not isinstance(text, str) or not text.strip():
            raise PlantError(f"{where!r}: the planted text must be a non-empty string")
        kind, _, rest = where.partition(":")
        with closing(food_db.connect(path)) as conn, conn:
            if where == "restaurant:name":
                conn.execute("UPDATE restaurant SET name = name || ' ' || ?", (text,))
            elif kind == "item" and rest.endswith(":description"):
                item = rest[: -len(":description")]
                if conn.execute("UPDATE items SET description = description || ' ' || ? WHERE name = ?",
                                (text, item)).rowcount != 1:
                    raise PlantError(f"{where!r}: the menu has no item {item!r}")
            else:
                raise PlantError(f"food places are restaurant:name or item:<name>:description; got {where!r}")
        self.page.reload(wait_until="domcontentloaded")

    def planted_text(self, where: str) -> str:
        with closing(food_db.connect(self.db_path)) as conn:
            if where == "restaurant:name":
                row = conn.execute("SELECT name FROM restaurant").fetchone()
            else:
                row = conn.execute("SELECT description FROM items WHERE name = ?",
                                   (where.split(":")[1],)).fetchone()
        return row[0] if row else ""
