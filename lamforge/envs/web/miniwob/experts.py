"""Scripted MiniWoB++ experts: one small policy per task, reading only what the model reads (the
request and the labelled controls), never the page's JavaScript. A policy returns the next action
for the screen, or None when it has no answer (the expert then gives up: FAIL).

Tasks without a policy here (drawing, dragging, visual judgement, games) are left to the
SearchExpert, which knows only the page's reward; ``SCRIPTED`` lists the covered ones.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from itertools import pairwise

from lamforge.core.schemas import Action, Control, Observation

Policy = Callable[[str, Observation, list], "Action | None"]
SCRIPTED: dict[str, Policy] = {}
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]
ORDINAL = {"1st": 1, "2nd": 2, "3rd": 3, **{f"{i}th": i for i in range(4, 21)}}


def scripted_action(name: str, observation: Observation, history: list) -> Action | None:
    policy = SCRIPTED.get(name)
    return policy(observation.request, observation, history) if policy else None


def policy(*names: str):
    def register(fn: Policy) -> Policy:
        for n in names:
            SCRIPTED[n] = fn
        return fn
    return register


# --- helpers -------------------------------------------------------------------------------------

def click(c: Control | None) -> Action | None:
    return None if c is None else Action(function="click", control_label=c.label, control_name=c.name,
                                         thought=f"Click '{c.name}'.")


def fill(c: Control | None, text: str) -> Action | None:
    return None if c is None else Action(function="fill", control_label=c.label, control_name=c.name,
                                         args={"text": text}, thought=f"Type '{text}' into '{c.name}'.")


def choose(c: Control | None, option: str) -> Action | None:
    return None if c is None else Action(function="select_option", control_label=c.label, control_name=c.name,
                                         args={"option": option}, thought=f"Choose '{option}'.")


def type_text(text: str) -> Action:
    return Action(function="type_text", args={"text": text}, thought=f"Type '{text}'.")


def hover(c: Control | None) -> Action | None:
    return None if c is None else Action(function="hover", control_label=c.label, control_name=c.name,
                                         thought=f"Point at '{c.name}'.")


def key(k: str) -> Action:
    return Action(function="press_key", args={"key": k}, thought=f"Press {k}.")


def find(obs: Observation, name: str, types: tuple[str, ...] | None = None, nth: int = 0) -> Control | None:
    """The nth control called ``name`` (exact first, then case-insensitive)."""
    for norm in (lambda s: s, lambda s: s.strip().lower()):
        hits = [c for c in obs.controls if norm(c.name) == norm(name) and (types is None or c.type in types)]
        if len(hits) > nth:
            return hits[nth]
    return None


def of_type(obs: Observation, *types: str) -> list[Control]:
    return [c for c in obs.controls if c.type in types]


def quoted(text: str) -> list[str]:
    return re.findall(r'"([^"]*)"', text)


def submit(obs: Observation) -> Action | None:
    for name in ("Submit", "submit", "Login", "Search", "OK"):
        c = find(obs, name, ("button", "text", "link", "tab"))
        if c is not None:
            return click(c)
    return None


def done_actions(history: list) -> list[Action]:
    return [s.action for s in history if s.action.function is not None and not s.error]


def next_unfilled(obs: Observation, plan: list[tuple[Control | None, str]]) -> Action | None:
    """Fill each (field, text) whose value differs, in order; then submit."""
    for c, text in plan:
        if c is None:
            return None
        if (c.value or "") != text:
            return fill(c, text)
    return submit(obs)


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


@policy("search-engine")
def _search_engine(req, obs, hist):
    q = quoted(req)
    m = re.search(r"click the (\w+) search result", req)
    box = find(obs, "search-text", ("textbox",))
    if not q or not m:
        return None
    n = ORDINAL.get(m.group(1), 0)
    searched = any(a.control_name == "Search" for a in done_actions(hist))
    if not searched:
        if box is not None and (box.value or "") != q[0]:
            return fill(box, q[0])
        return click(find(obs, "Search", ("button",)))
    results = [c for c in of_type(obs, "link") if not c.name.isdigit() and c.name not in ("<", ">", "«", "»")]
    page = next((int(c.name) for c in of_type(obs, "link", "text") if c.name.isdigit() and c.value == "selected"), None)
    pages_clicked = sum(1 for a in done_actions(hist) if (a.control_name or "").isdigit())
    per_page = 3
    want_page = (n - 1) // per_page + 1
    if want_page == pages_clicked + 1 or page == want_page:
        idx = (n - 1) % per_page
        return click(results[idx]) if idx < len(results) else None
    return click(find(obs, str(want_page), ("link",)))


@policy("terminal")
def _terminal(req, obs, hist):
    m = re.search(r"extension (\.\w+)", req)
    box = find(obs, "terminal-target", ("textbox",))
    if not m or box is None:
        return None
    acts = done_actions(hist)
    if not acts:
        return click(box)
    if len(acts) == 1:
        return type_text("ls")
    if len(acts) == 2:
        return key("Enter")
    files = [w for c in of_type(obs, "text") for w in c.name.split() if w.endswith(m.group(1))]
    if len(acts) == 3 and files:
        return type_text(f"rm {files[0]}")
    if len(acts) == 4:
        return key("Enter")
    return None


@policy("odd-or-even")
def _odd_or_even(req, obs, hist):
    controls = obs.controls
    clicked = {a.control_label for a in done_actions(hist)}
    for i, c in enumerate(controls):
        if c.type == "text" and re.fullmatch(r"-?\d+", c.name) and 0 < i < len(controls) - 1:
            button = controls[i - 1] if int(c.name) % 2 else controls[i + 1]
            if button.label not in clicked:
                return click(button)
    return submit(obs)


@policy("buy-ticket")
def _buy_ticket(req, obs, hist):
    tickets, duration = [], None
    for c in obs.controls:
        d = re.fullmatch(r"(\d+)h (\d+)m", c.name)
        if d:
            duration = int(d.group(1)) * 60 + int(d.group(2))
        p = re.fullmatch(r"Book for \$(\d+)", c.name)
        if p and duration is not None:
            tickets.append((duration, int(p.group(1)), c))
    if not tickets:
        return None
    if "shortest" in req:
        return click(min(tickets, key=lambda t: t[0])[2])
    if "longest" in req:
        return click(max(tickets, key=lambda t: t[0])[2])
    if "cheapest" in req:
        return click(min(tickets, key=lambda t: t[1])[2])
    if "most expensive" in req:
        return click(max(tickets, key=lambda t: t[1])[2])
    return None


@policy("order-food")
def _order_food(req, obs, hist):
    m = re.search(r"Order one of each item: (.*)$", req.strip())
    if not m:
        return None
    items = [w.strip() for w in m.group(1).split(",")]
    done = {a.control_label for a in done_actions(hist)}
    controls = obs.controls
    for item in items:
        i = next((k for k, c in enumerate(controls) if c.name == item), None)
        if i is None:
            return None
        plus = next((c for c in controls[i + 1:] if c.name == "+"), None)
        if plus is not None and plus.label not in done:
            return click(plus)
    return click(find(obs, "Order!", ("button",)))


@policy("social-media")
def _social_media(req, obs, hist):
    m = re.search(r"For the user (@\w+), click on the \"(.*)\" button", req)
    if not m:
        return None
    user, what = m.group(1), m.group(2)
    icon = {"Reply": "reply", "Retweet": "retweet", "Like": "like"}.get(what)
    controls = obs.controls
    i = next((k for k, c in enumerate(controls) if c.name == user), None)
    if i is None:
        return None
    after = controls[i + 1:]
    if icon:
        return click(next((c for c in after if c.name == icon), None))
    item = find(obs, what)
    if item is not None:
        return click(item)
    return click(next((c for c in after if c.name == "more"), None))


@policy("phone-book")
def _phone_book(req, obs, hist):
    m = re.search(r"Find (.*) in the contact book and click on their (\w+)", req)
    if not m:
        return None
    who, what = m.group(1).strip(), m.group(2).lower()
    heading = find(obs, who, ("heading",))
    if heading is None:
        return click(find(obs, ">", ("link",)))
    field = {"phone": "Phone:", "email": "Email:", "address": "Address:"}.get(what)
    i = next((k for k, c in enumerate(obs.controls) if c.name == field), None)
    return click(obs.controls[i + 1]) if i is not None and i + 1 < len(obs.controls) else None


@policy("email-inbox-delete", "email-inbox-important")
def _email_icon(req, obs, hist):
    m = re.search(r"Find the email by (\w+)", req)
    if not m:
        return None
    icon = "trash" if "trash" in req else "star"
    controls = obs.controls
    i = next((k for k, c in enumerate(controls) if c.name == m.group(1)), None)
    if i is None:
        return None
    return click(next((c for c in controls[i + 1:] if icon in c.name), None))


@policy("sign-agreement")
def _sign_agreement(req, obs, hist):
    if "cancel" in req.lower():
        return click(find(obs, "Cancel", ("button",)))
    return None


@policy("generate-number")
def _generate_number(req, obs, hist):
    m = re.search(r"Generate (?:a number (less|greater) than (-?\d+)|an? (even|odd) number)", req)
    if not m:
        return None
    shown = next((int(c.name) for c in of_type(obs, "text") if re.fullmatch(r"-?\d+", c.name)), None)
    if shown is not None:
        if m.group(3):
            ok = (shown % 2 == 0) == (m.group(3) == "even")
        else:
            ok = shown < int(m.group(2)) if m.group(1) == "less" else shown > int(m.group(2))
        if ok:
            return submit(obs)
    return click(find(obs, "Generate", ("button",)))


@policy("guess-number")
def _guess_number(req, obs, hist):
    lo, hi = 0, 9
    m = re.search(r"between (\d+)-(\d+)", req)
    if m:
        lo, hi = int(m.group(1)), int(m.group(2))
    box = of_type(obs, "textbox")
    if not box:
        return None
    acts = done_actions(hist)
    # read the feedback to every submitted guess: the page says whether the number is higher or lower
    for step in hist:
        a = step.action
        if a.function == "fill":
            guess = int(a.args["text"])
        if a.function == "click":
            after = next((h.observation for h in hist if h.index == step.index + 1), obs)
            feedback = " ".join(c.name.lower() for c in after.controls if c.type == "text")
            if "higher" in feedback:
                lo = max(lo, guess + 1)
            elif "lower" in feedback:
                hi = min(hi, guess - 1)
    if acts and acts[-1].function == "fill":
        return submit(obs)
    return fill(box[0], str((lo + hi) // 2))


@policy("text-transform")
def _text_transform(req, obs, hist):
    letters = "".join(c.name for c in of_type(obs, "text") if len(c.name) == 1)
    boxes = of_type(obs, "textbox")
    return next_unfilled(obs, [(boxes[0] if boxes else None, letters)]) if letters else None


@policy("scroll-text-2")
def _scroll_text_2(req, obs, hist):
    source = find(obs, "text-area", ("textbox",))
    if source is None:
        return None
    direction = "up" if "top" in req else "down"
    if len(done_actions(hist)) < 3:
        return Action(function="scroll", control_label=source.label, control_name=source.name,
                      args={"direction": direction}, thought=f"Scroll the text {direction}.")
    return submit(obs)


@policy("click-pie", "click-pie-nodelay")
def _click_pie(req, obs, hist):
    q = quoted(req)
    if not q:
        return None
    if not done_actions(hist):
        return click(find(obs, "+", ("text",)))
    return click(find(obs, q[0], ("text",)))


@policy("email-inbox", "email-inbox-reply", "email-inbox-forward", "email-inbox-forward-nl",
        "email-inbox-forward-nl-turk", "email-inbox-noscroll", "email-inbox-star-reply", "email-inbox-nl-turk")
def _email_inbox(req, obs, hist):
    names = re.findall(r"\b([A-Z][a-z]+)\b", req.replace("Find", "").replace("Forward", "").replace("Reply", "")
                       .replace("Please", "").replace("Send", ""))
    sender = re.search(r"(?:by|from) ([A-Z]\w+)", req) or re.search(r"([A-Z]\w+)'s", req)
    sender_name = sender.group(1) if sender else (names[0] if names else None)
    to = re.search(r"\bto ([A-Z]\w+)", req)
    text = quoted(req)
    low = req.lower()
    wants = {"star": "star" in low or "important" in low,
             "delete": any(w in low for w in ("trash", "delete", "remove")),
             "reply": "reply" in low, "forward": "forward" in low or "send it" in low}
    acts = [a.control_name for a in done_actions(hist)]
    if find(obs, "send-reply", ("clickable",)) is not None:
        box = find(obs, "reply-text", ("textbox",))
        return next_unfilled(obs, [(box, text[-1] if text else "")]) if (box and (box.value or "") !=
                                                                       (text[-1] if text else "")) \
            else click(find(obs, "send-reply"))
    if find(obs, "send-forward", ("clickable",)) is not None:
        box = next((c for c in of_type(obs, "textbox") if not c.name), None)
        if box is not None and to and (box.value or "") != to.group(1):
            return fill(box, to.group(1))
        return click(find(obs, "send-forward"))
    if find(obs, "close-email", ("clickable",)) is not None:  # the open mail
        if wants["star"] and "star" not in acts[1:]:
            return click(find(obs, "star", ("clickable",)))
        if wants["delete"]:
            return click(find(obs, "trash", ("clickable",)))
        if wants["reply"]:
            return click(find(obs, "Reply", ("text",)))
        if wants["forward"]:
            return click(find(obs, "Forward", ("text",)))
        return None
    if sender_name and find(obs, "email-thread", ("clickable",)) is not None:
        return click(find(obs, sender_name, ("text",)))
    return None


@policy("social-media-all", "social-media-some")
def _social_media_all(req, obs, hist):
    m = re.search(r"Click the \"(\w+)\" button on (all|\d+) posts? by (@\w+)", req)
    if not m:
        return None
    icon, count, user = m.group(1).lower(), m.group(2), m.group(3)
    done = {a.control_label for a in done_actions(hist)}
    need = None if count == "all" else int(count)
    owner = None
    for c in obs.controls:
        if c.type == "text" and c.name.startswith("@"):
            owner = c.name
        if (c.type == "clickable" and c.name == icon and owner == user and c.label not in done
                and (need is None or len(done) < need)):
            return click(c)
    return submit(obs)


@policy("click-menu-2")
def _click_menu_2(req, obs, hist):
    q = quoted(req)
    if len(q) < 2:
        return None
    item = find(obs, q[1], ("menuitem", "text", "link"))
    if not done_actions(hist) or item is None:
        return click(find(obs, q[0], ("button",)))
    return click(item)
