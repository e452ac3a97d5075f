"""Scripted MiniWoB++ policies: typing and form tasks."""

from __future__ import annotations

import re
from itertools import pairwise

from lamforge.envs.web.miniwob.experts.base import (MONTHS, ORDINAL, choose, click, done_actions, fill, find,
                                                    next_unfilled, of_type, policy, quoted, submit, type_text)


# --- typing tasks --------------------------------------------------------------------------------

@policy("enter-text", "enter-text-dynamic")
def _enter_text(req, obs, hist):
    q, boxes = quoted(req), of_type(obs, "textbox")
    return next_unfilled(obs, [(boxes[0] if boxes else None, q[0])]) if q else None


@policy("enter-text-2")
def _enter_text_2(req, obs, hist):
    q, boxes = quoted(req), of_type(obs, "textbox")
    if not q:
        return None
    text = q[0].lower() if "lower case" in req else q[0].upper() if "upper case" in req else q[0]
    return next_unfilled(obs, [(boxes[0] if boxes else None, text)])


@policy("enter-password")
def _enter_password(req, obs, hist):
    q = quoted(req)
    return next_unfilled(obs, [(find(obs, "password"), q[0]), (find(obs, "verify"), q[0])]) if q else None


@policy("login-user", "login-user-popup")
def _login_user(req, obs, hist):
    q = quoted(req)
    if len(q) < 2:
        return None
    popup = find(obs, "Cancel", ("button",))
    if popup is not None:  # the popup asks whether to go on: dismiss it
        return click(popup)
    return next_unfilled(obs, [(find(obs, "username"), q[0]), (find(obs, "password"), q[1])])


@policy("enter-date")
def _enter_date(req, obs, hist):
    m = re.search(r"(\d\d)/(\d\d)/(\d{4})", req)
    boxes = of_type(obs, "textbox")
    if not m or not boxes:
        return None
    iso = f"{m.group(3)}-{m.group(1)}-{m.group(2)}"
    return next_unfilled(obs, [(boxes[0], iso)])


@policy("enter-time")
def _enter_time(req, obs, hist):
    m = re.search(r"(\d+):(\d\d) ?(AM|PM)", req)
    boxes = of_type(obs, "textbox")
    if not m or not boxes:
        return None
    h = int(m.group(1)) % 12 + (12 if m.group(3) == "PM" else 0)
    return next_unfilled(obs, [(boxes[0], f"{h:02d}:{m.group(2)}")])


@policy("choose-date", "choose-date-easy", "choose-date-medium", "choose-date-nodelay")
def _choose_date(req, obs, hist):
    """Open the calendar, page to the month, click the day, submit."""
    m = re.search(r"(\d\d)/(\d\d)/(\d{4})", req)
    box = find(obs, "datepicker", ("textbox",))
    if not m or box is None:
        return None
    month, day, year = int(m.group(1)), int(m.group(2)), int(m.group(3))
    if (box.value or "") == m.group(0):
        return submit(obs)
    shown_month = next((MONTHS.index(c.name) + 1 for c in of_type(obs, "text") if c.name in MONTHS), None)
    shown_year = next((int(c.name) for c in of_type(obs, "text") if re.fullmatch(r"\d{4}", c.name)), None)
    if shown_month is None or shown_year is None:
        return click(box)
    delta = (year - shown_year) * 12 + (month - shown_month)
    if delta:
        return click(find(obs, "Prev" if delta < 0 else "Next", ("text", "link")))
    return click(find(obs, str(day), ("link",)))


@policy("copy-paste", "copy-paste-2")
def _copy_paste(req, obs, hist):
    m = re.search(r"the (\w+) text area", req)
    sources = [c for c in of_type(obs, "textbox") if c.name != "answer-input"]
    n = ORDINAL.get(m.group(1), 1) if m else 1
    if not 0 < n <= len(sources):
        return None
    return next_unfilled(obs, [(find(obs, "answer-input"), sources[n - 1].value or "")])


@policy("find-word")
def _find_word(req, obs, hist):
    m = re.search(r"Find the (\w+) word", req)
    texts = of_type(obs, "text")
    if not m or not texts:
        return None
    words = texts[0].name.split()
    n = ORDINAL.get(m.group(1), 0)
    if not 0 < n <= len(words):
        return None
    return next_unfilled(obs, [(find(obs, "answer-input"), words[n - 1].strip(".,;:!?"))])


@policy("scroll-text")
def _scroll_text(req, obs, hist):
    source = find(obs, "text-area", ("textbox",))
    if source is None or not source.value or source.value.endswith("…"):
        return None
    return next_unfilled(obs, [(find(obs, "answer-input"), source.value.split()[-1].strip(".,;:!?"))])


@policy("read-table")
def _read_table(req, obs, hist):
    m = re.search(r"value of (.*) into the text field", req)
    if not m:
        return None
    cells = of_type(obs, "cell")
    for a, b in pairwise(cells):
        if a.name == m.group(1).strip():
            return next_unfilled(obs, [(of_type(obs, "textbox")[0], b.name)])
    return None


@policy("read-table-2")
def _read_table_2(req, obs, hist):
    cells = of_type(obs, "cell")
    value = {a.name: b.name for a, b in pairwise(cells)}
    plan, pending = [], None
    for c in obs.controls:
        if c.type == "label":
            pending = value.get(c.name.rstrip(": "))
        elif c.type == "textbox" and pending is not None:
            plan.append((c, pending))
            pending = None
    return next_unfilled(obs, plan) if plan else None


@policy("simple-arithmetic")
def _simple_arithmetic(req, obs, hist):
    for c in of_type(obs, "text"):
        m = re.fullmatch(r"(-?\d+)\s*([-+x*/])\s*(-?\d+)\s*=", c.name)
        if m:
            a, op, b = int(m.group(1)), m.group(2), int(m.group(3))
            result = {"+": a + b, "-": a - b, "x": a * b, "*": a * b, "/": a // b if b else 0}[op]
            return next_unfilled(obs, [(find(obs, "math-answer"), str(result))])
    return None


@policy("simple-algebra")
def _simple_algebra(req, obs, hist):
    for c in of_type(obs, "text"):
        m = re.fullmatch(r"x\s*([-+])\s*(\d+)\s*=\s*(-?\d+)", c.name)
        if m:
            b, rhs = int(m.group(2)), int(m.group(3))
            x = rhs - b if m.group(1) == "+" else rhs + b
            return next_unfilled(obs, [(find(obs, "math-answer"), str(x))])
    return None


@policy("multi-layouts", "multi-orderings")
def _multi_layouts(req, obs, hist):
    m = re.search(r"Search for (\w+) movies directed by (.*) from year (\d+)", req)
    if not m:
        return None
    want = {"genre": m.group(1), "director": m.group(2), "year": m.group(3)}
    plan, pending = [], None
    for c in obs.controls:
        words = c.name.lower()
        field = "year" if ("year" in words or "date" in words) else "genre" if "genre" in words else \
            "director" if "director" in words else None
        if c.type in ("text", "cell", "label") and field:
            pending = want[field]
        elif c.type == "textbox" and pending is not None:
            plan.append((c, pending))
            pending = None
    if len(plan) < 3:
        return None
    for c, text in plan:
        if (c.value or "") != text:
            return fill(c, text)
    return submit(obs) or click(next(iter(of_type(obs, "button")), None))


@policy("form-sequence-2")
def _form_sequence_2(req, obs, hist):
    m = re.search(r"Check the (\w+) radio button and enter the number \"(-?\d+)\" into the (\w+) textbox", req)
    if not m:
        return None
    radios, boxes = of_type(obs, "radio"), of_type(obs, "textbox")
    r, t = ORDINAL.get(m.group(1), 0), ORDINAL.get(m.group(3), 0)
    if not (0 < r <= len(radios) and 0 < t <= len(boxes)):
        return None
    if radios[r - 1].value != "checked":
        return click(radios[r - 1])
    return next_unfilled(obs, [(boxes[t - 1], m.group(2))])


@policy("form-sequence-3")
def _form_sequence_3(req, obs, hist):
    m = re.search(r"Choose (.*) from the dropdown, then click the button labeled \"(\w+)\"", req)
    box = of_type(obs, "combobox")
    if not m or not box:
        return None
    if not (box[0].value or "").startswith(m.group(1) + " {"):
        return choose(box[0], m.group(1))
    return click(find(obs, m.group(2), ("button",)))


@policy("use-spinner")
def _use_spinner(req, obs, hist):
    m = re.search(r"Select (-?\d+) with the spinner", req)
    boxes = of_type(obs, "textbox")
    return next_unfilled(obs, [(boxes[0] if boxes else None, m.group(1))]) if m else None


@policy("use-autocomplete", "use-autocomplete-nodelay")
def _use_autocomplete(req, obs, hist):
    q = quoted(req)
    box = of_type(obs, "textbox")
    if not q or not box:
        return None
    acts = done_actions(hist)
    if not acts:
        return click(box[0])
    if len(acts) == 1:
        return type_text(q[0])
    ends = q[1] if len(q) > 1 else ""
    for c in obs.controls:  # the suggestions list
        if c.type in ("text", "listitem", "menuitem") and c.name.startswith(q[0]) and c.name.endswith(ends):
            if (box[0].value or "") != c.name:
                return click(c)
            return submit(obs)
    return submit(obs) if (box[0].value or "").endswith(ends) else None
