"""Scripted MiniWoB++ experts: one small policy per task, reading only what the model reads (the
request and the labelled controls), never the page's JavaScript. A policy returns the next action
for the screen, or None when it has no answer (the expert then gives up: FAIL).

Tasks without a policy here (drawing, dragging, visual judgement, games) are left to the
SearchExpert, which knows only the page's reward; ``SCRIPTED`` lists the covered ones.
"""

# each module registers its policies in SCRIPTED when imported
from lamforge.envs.web.miniwob.experts import clicking, forms, apps  # noqa: F401,I001
from lamforge.envs.web.miniwob.experts.base import SCRIPTED, scripted_action

__all__ = ["SCRIPTED", "scripted_action"]
