"""The web environment: a real headless Chromium (the system's ``/usr/bin/chromium``, driven by
Playwright), any web application plugged in as a *site*.

Observation: the page title and URL, then the interactive and text-bearing elements as a labelled
list (``[12] button Submit``, ``[13] textbox Name: Alice``, ``[14] combobox Size: M {S|M|L}``);
labels are ``data-lf`` attributes on the nodes, stable for the episode. Actions
(:data:`~lamforge.envs.web.actions.WEB_ACTIONS`): ``click``, ``fill``, ``select_option``,
``press_key``, ``scroll``, ``go_back``, plus the shared FINISH / FAIL statuses. A failed action
(element gone, hidden, navigation mid-action, timeout) comes back as ``last_action_error``.

How a site plugs in (the food-ordering site does exactly this)::

    # lamforge/envs/food/site.py
    from lamforge.envs.web import Site, StaticServer, WebEnv, WebState

    class FoodSite(Site):
        name = "food"
        def start(self):  self.server = MyLoopbackServer()          # 127.0.0.1 only
        def stop(self):   self.server.close()
        def setup(self, page, task):                                 # same start for the same task
            self.server.reset_database(task.params)
            page.goto(self.server.url("/"))
        def judge(self, page, task):                                 # what the check reads
            return WebState(page.url, page.title(), {"orders": self.server.orders()})

    class FoodEnv(WebEnv):
        env_id = "lamforge/Food-v0"
        site_class = FoodSite

    # lamforge/envs/food/tasks.py: TaskFamily subclasses with env_id = "lamforge/Food-v0"
    #   check(task, state: WebState) reads state.data; solution(task) names controls by name,
    #   e.g. Action(function="click", control_name="Add to cart"); then
    #   register_families("lamforge/Food-v0", [...])

    # lamforge/envs/registry.py
    register(EnvSpec(id="lamforge/Food-v0", short_name="food",
                     entry_point="lamforge.envs.food.env:FoodEnv",
                     tasks_module="lamforge.envs.food.tasks", description="..."))

Everything downstream (agents, ``lamforge collect``, training, ``lamforge eval``) then works on it
unchanged. One browser serves every environment of a process; it stops when the last one closes
and at interpreter exit.
"""

from lamforge.envs.web.actions import WEB_ACTIONS, PageActions
from lamforge.envs.web.browser import StaticServer, chromium_path
from lamforge.envs.web.env import WebEnv
from lamforge.envs.web.site import Site, WebState

__all__ = ["WEB_ACTIONS", "PageActions", "Site", "StaticServer", "WebEnv", "WebState", "chromium_path"]
