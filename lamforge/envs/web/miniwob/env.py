"""``lamforge/MiniWoB-v0``: the 125 core MiniWoB++ tasks in the web environment.

    lamforge run --env miniwob --agent expert --task click-button --seed 3
    lamforge bench miniwob --agent expert --json

A task is one MiniWoB page and one seed (``task.params = {"task", "seed"}``); the page writes the
request (its utterance) at reset. The page ends the episode itself when it judges an answer; the
reward is binary (1 when the page's raw reward is positive), as in the BrowserGym protocol.
"""

from __future__ import annotations

from lamforge.envs.web.env import WebEnv
from lamforge.envs.web.miniwob.site import MiniWoBSite


class MiniWoBEnv(WebEnv):
    env_id = "lamforge/MiniWoB-v0"
    site_class = MiniWoBSite

    def __init__(self, render_mode: str | None = None, max_steps: int = 10, max_controls: int = 150):
        super().__init__(render_mode=render_mode, max_steps=max_steps, max_controls=max_controls)
