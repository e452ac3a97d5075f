"""Scripted MiniWoB++ policies: the small applications (search engine, terminal, e-mail, social media,
tickets)."""

from __future__ import annotations

import re

from lamforge.core.schemas import Action
from lamforge.envs.web.miniwob.experts.base import (ORDINAL, click, done_actions, fill, find, key, next_unfilled,
                                                    of_type, policy, quoted, submit, type_text)


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
