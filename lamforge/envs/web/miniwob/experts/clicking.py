"""Scripted MiniWoB++ policies: the click tasks."""

from __future__ import annotations

import re

from lamforge.envs.web.miniwob.experts.base import (ORDINAL, choose, click, done_actions, find, hover, of_type,
                                                    policy, quoted, submit)


# --- click tasks --------------------------------------------------------------------------------

@policy("click-test")
def _click_test(req, obs, hist):
    return click(of_type(obs, "button")[0] if of_type(obs, "button") else None)


@policy("click-test-2", "click-test-transfer")
def _click_test_2(req, obs, hist):
    m = re.search(r"Click button (\w+)", req)
    return click(find(obs, m.group(1), ("button",))) if m else None


@policy("click-button", "unicode-test")
def _click_button(req, obs, hist):
    q = quoted(req)
    return click(find(obs, q[0], ("button",))) if q else None


@policy("click-button-sequence")
def _click_button_sequence(req, obs, hist):
    return click(find(obs, "ONE" if not done_actions(hist) else "TWO", ("button",)))


@policy("click-link")
def _click_link(req, obs, hist):
    q = quoted(req)
    return click(find(obs, q[0])) if q else None


@policy("click-color")
def _click_color(req, obs, hist):
    m = re.search(r"Click on the (\w+) colored box", req)
    return click(find(obs, m.group(1), ("box",))) if m else None


@policy("click-dialog")
def _click_dialog(req, obs, hist):
    return click(find(obs, "Close", ("button",)))


@policy("click-dialog-2")
def _click_dialog_2(req, obs, hist):
    q = quoted(req)
    if not q:
        return None
    if q[0].lower() == "x":
        return click(find(obs, "Close", ("button",)))
    return click(find(obs, q[0], ("button",)))


@policy("click-tab")
def _click_tab(req, obs, hist):
    m = re.search(r"Click on Tab #(\d+)", req)
    return click(find(obs, f"Tab #{m.group(1)}", ("tab",))) if m else None


@policy("click-tab-2", "click-tab-2-easy", "click-tab-2-medium", "click-tab-2-hard")
def _click_tab_2(req, obs, hist):
    q = quoted(req)
    if not q:
        return None
    target = find(obs, q[0], ("text", "link"))
    if target is not None:
        return click(target)
    tried = {a.control_name for a in done_actions(hist)}
    for tab in of_type(obs, "tab"):
        if tab.value != "selected" and tab.name not in tried:
            return click(tab)
    return None


@policy("click-collapsible", "click-collapsible-nodelay")
def _click_collapsible(req, obs, hist):
    headers = [c for c in of_type(obs, "tab") if c.name.startswith("Section")]
    if any(h.value == "selected" for h in headers) or done_actions(hist):
        return click(find(obs, "Submit"))
    headers = [c for c in of_type(obs, "tab") if c.name.startswith("Section")]
    return click(headers[0]) if headers and not done_actions(hist) else None


@policy("click-collapsible-2", "click-collapsible-2-nodelay")
def _click_collapsible_2(req, obs, hist):
    q = quoted(req)
    if not q:
        return None
    target = find(obs, q[0], ("text", "link"))
    if target is not None:
        return click(target)
    tried = {a.control_name for a in done_actions(hist)}
    for tab in of_type(obs, "tab"):
        if tab.name not in tried:
            return click(tab)
    return None


@policy("click-checkboxes", "click-checkboxes-large", "click-checkboxes-transfer")
def _click_checkboxes(req, obs, hist):
    m = re.search(r"Select (.*) and click Submit", req)
    if not m:
        return None
    wanted = [] if m.group(1).strip() == "nothing" else [w.strip() for w in re.split(r",\s*", m.group(1)) if w.strip()]
    for box in of_type(obs, "checkbox"):
        if (box.name.strip() in wanted) != (box.value == "checked"):
            return click(box)
    return submit(obs)


@policy("click-option")
def _click_option(req, obs, hist):
    m = re.search(r"Select (.*) and click Submit", req)
    if not m:
        return None
    radio = find(obs, m.group(1).strip(), ("radio",))
    if radio is not None and radio.value != "checked":
        return click(radio)
    return submit(obs)


@policy("choose-list")
def _choose_list(req, obs, hist):
    m = re.search(r"Select (.*) from the list", req)
    box = of_type(obs, "combobox")
    if not m or not box:
        return None
    if not (box[0].value or "").startswith(m.group(1).strip() + " {"):
        return choose(box[0], m.group(1).strip())
    return submit(obs)


@policy("click-scroll-list")
def _click_scroll_list(req, obs, hist):
    m = re.search(r"Select (.*) from the scroll list", req)
    box = of_type(obs, "combobox")
    if not m or not box:
        return None
    chosen = {a.args.get("option") for a in done_actions(hist) if a.function == "select_option"}
    for item in (w.strip() for w in re.split(r",\s*", m.group(1))):
        if item and item not in chosen:
            return choose(box[0], item)
    return submit(obs)


@policy("click-widget")
def _click_widget(req, obs, hist):
    q = quoted(req)
    kinds = {"text": ("textbox",), "textarea": ("textbox",), "button": ("button",), "checkbox": ("checkbox",),
             "radio": ("radio",)}
    if not q or q[0] not in kinds:
        return None
    hits = of_type(obs, *kinds[q[0]])
    return click(hits[0]) if hits else None


@policy("focus-text")
def _focus_text(req, obs, hist):
    boxes = of_type(obs, "textbox")
    return click(boxes[0]) if boxes else None


@policy("focus-text-2")
def _focus_text_2(req, obs, hist):
    m = re.search(r"the (\w+) input textbox", req)
    boxes = of_type(obs, "textbox")
    n = ORDINAL.get(m.group(1), 0) if m else 0
    return click(boxes[n - 1]) if 0 < n <= len(boxes) else None


@policy("ascending-numbers")
def _ascending_numbers(req, obs, hist):
    """The numbers hide behind boxes after the first click: remember where each one was (the boxes
    keep the numbers' order on the page, less the ones already clicked)."""
    n = len(done_actions(hist)) + 1
    visible = find(obs, str(n), ("text",))
    if visible is not None:
        return click(visible)
    first = hist[0].observation if hist else obs
    order = [c.name for c in first.controls if c.type == "text" and c.name.isdigit()]
    remaining = [x for x in order if int(x) >= n]
    boxes = of_type(obs, "shape")
    if len(boxes) != len(remaining) or str(n) not in remaining:
        return None
    return click(boxes[remaining.index(str(n))])


@policy("click-menu")
def _click_menu(req, obs, hist):
    m = re.search(r"Select (.*)$", req.strip())
    if not m:
        return None
    path = [p.strip() for p in m.group(1).split(">")]
    step = len(done_actions(hist))  # point at each item on the way, click the last one
    if step >= len(path):
        return None
    item = find(obs, path[step], ("menuitem", "text"))
    return click(item) if step == len(path) - 1 else hover(item)


@policy("navigate-tree")
def _navigate_tree(req, obs, hist):
    q = quoted(req)
    if not q:
        return None
    target = find(obs, q[0], ("text",))
    if target is not None:
        return click(target)
    tried = {a.control_label for a in done_actions(hist)}
    for c in obs.controls:  # open the folders one by one (a folder's name follows its expander)
        if c.type == "clickable" and "expandable" in c.name and c.label not in tried:
            return click(c)
    return None
