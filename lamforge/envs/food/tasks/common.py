"""Helpers shared by the food task families: choosing what to order from a seeded menu, the
reference actions of the site's pages, and reading the database snapshot the checks get."""

from __future__ import annotations

import random
import re
from typing import Any

from lamforge.core.schemas import Action
from lamforge.envs.food.menu import (
    TEMPLATES,
    Item,
    Menu,
    build_menu,
    random_street,
)
from lamforge.envs.food.payment import make_card
from lamforge.envs.tasks import TaskFamily, finish  # noqa: F401  (finish: the families import it from here)

ENV_ID = "lamforge/Food-v0"
Line = list  # [item, size or None, [extras], quantity], JSON-friendly for task params

FIRST_NAMES = ("Alex", "Maria", "Sam", "Priya", "Jonas", "Leila", "Tom", "Yuki", "Carlos", "Emma")
LAST_NAMES = ("Smith", "Garcia", "Chen", "Okafor", "Muller", "Rossi", "Novak", "Khan", "Silva", "Brown")


class FoodFamily(TaskFamily):
    env_id = ENV_ID
    templates = TEMPLATES
    def word(self, rng: random.Random, **values: Any) -> str:
        values.update({f"{k[0].upper()}{k[1:]}": v[:1].upper() + v[1:] for k, v in list(values.items())
                       if isinstance(v, str) and v})  # {Cash} starts a sentence, {cash} goes inside one
        text = super().word(rng, **values)
        return text[0].upper() + text[1:]

    def sample(self, rng: random.Random):
        # a menu may lack what a family needs (no dish pricey enough for a promo's minimum): draw
        # another restaurant; the same rng state still gives the same task
        for _ in range(50):
            try:
                return self.build(rng)
            except LookupError:
                continue
        raise LookupError(f"{self.name}: no menu fits after 50 draws")

    def build(self, rng: random.Random):
        raise NotImplementedError

    def start(self, rng: random.Random) -> tuple[str, int, Menu]:
        template = rng.choice(self.templates)
        seed = rng.randrange(1_000_000)
        return template, seed, build_menu(template, seed)

    def menu(self, task) -> Menu:
        return build_menu(task.template, int(task.params["menu_seed"]))


# --- choosing what to order ---------------------------------------------------------------------

def pick_line(rng: random.Random, menu: Menu, *, extras: int = 0, quantity: int = 1, min_total: int = 0,
              category: str | None = None, exclude: tuple[str, ...] = ()) -> Line:
    """An in-stock item with a size (if it has sizes) and ``extras`` extras whose line total is at
    least ``min_total``; raises when the menu has none."""
    pool = [i for i in menu.in_stock(category) if i.name not in exclude and len(i.extras) >= extras]
    rng.shuffle(pool)
    for item in pool:
        size = rng.choice(item.sizes) if item.sizes else None
        chosen = sorted(e.name for e in rng.sample(item.extras, extras))
        if item.unit_price(size, chosen) * quantity >= min_total:
            return [item.name, size, chosen, quantity]
    raise LookupError(f"{menu.name} has no item for this request")


def mains(menu: Menu) -> str:
    return menu.categories[0]


def line_total(menu: Menu, line: Line) -> int:
    name, size, extras, qty = line
    return menu.item(name).unit_price(size, extras) * qty


def say_line(line: Line, menu: Menu | None = None) -> str:
    """How a person asks for a line: ``2 large Pepperoni with olives and extra cheese``; a size
    that is a count ("6 pieces") goes after the name."""
    name, size, extras, qty = line
    with_ = f" with {' and '.join(e.lower() for e in extras)}" if extras else ""
    if size and size[0].isdigit():
        count = "" if qty == 1 else f"{qty} portions of "
        return f"{count}{name} ({size}){with_}"
    count = str(qty) if qty > 1 else ("an" if not size and name[0].lower() in "aeiou" else "a")
    sized = f"{size.lower()} " if size else ""
    return f"{count} {sized}{name}{with_}"


def street(rng: random.Random) -> str:
    return random_street(rng)


def card(rng: random.Random, declined: bool = False) -> dict[str, str]:
    return {"number": make_card(rng, declined), "expiry": f"{rng.randint(1, 12):02d}/{rng.randint(28, 31)}",
            "cvc": f"{rng.randint(100, 999)}", "name": f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"}


def say_card(c: dict[str, str]) -> str:
    return f"card {c['number']}, expiry {c['expiry']}, CVC {c['cvc']}, name {c['name']}"


# --- reference actions -----------------------------------------------------------------------

def gui(function: str, control: str, **args: Any) -> Action:
    return Action(function=function, control_name=control, args=args)


def add_line(menu: Menu, line: Line, note: str = "") -> list[Action]:
    """From the menu page: open the item, choose size and extras, quantity, note, add to cart."""
    name, size, extras, qty = line
    item: Item = menu.item(name)
    out = [gui("click", name)]
    if item.sizes:
        out.append(gui("select_option", "Size", option=size))
    out += [gui("click", e) for e in extras]
    if qty != 1:
        out.append(gui("fill", "Quantity", text=str(qty)))
    if note:
        out.append(gui("fill", "Special instructions (optional)", text=note))
    out.append(gui("click", "Add to cart"))
    return out


def checkout(address: str, payment: str, card_: dict[str, str] | None = None, *, time: str | None = None,
             tip: str | None = None, instructions: str = "", promo: str | None = None,
             from_cart: bool = False) -> list[Action]:
    """From any page with the header: cart, (promo), checkout form, payment, Place order (FINISH)."""
    out = [] if from_cart else [gui("click", "View cart")]
    if promo:
        out += [gui("fill", "Promo code", text=promo), gui("click", "Apply code")]
    out += [gui("click", "Go to checkout"), gui("fill", "Street address", text=address)]
    if time:
        out.append(gui("select_option", "Delivery time", option=time))
    if instructions:
        out.append(gui("fill", "Delivery instructions (optional)", text=instructions))
    if tip:
        out.append(gui("select_option", "Tip for the driver", option=tip))
    out += pay(payment, card_)
    out.append(gui("click", "Place order"))
    return finish(out)


def pay(payment: str, card_: dict[str, str] | None) -> list[Action]:
    if payment == "cash":
        return [gui("click", "Cash on delivery")]
    return [gui("click", "Credit card"), gui("fill", "Card number", text=card_["number"]),
            gui("fill", "Expiry date (MM/YY)", text=card_["expiry"]), gui("fill", "CVC", text=card_["cvc"]),
            gui("fill", "Name on card", text=card_["name"])]


# --- checks ------------------------------------------------------------------------------------

_ABBREV = {"street": "st", "avenue": "ave", "road": "rd", "lane": "ln", "drive": "dr"}


def norm_street(text: str | None) -> str:
    words = re.sub(r"[.,]", " ", (text or "").lower()).split()
    return " ".join(_ABBREV.get(w, w) for w in words)


def key(line: Line | dict) -> tuple:
    if isinstance(line, dict):
        return line["item"], line["size"] or None, tuple(sorted(line["extras"])), int(line["quantity"])
    name, size, extras, qty = line
    return name, size or None, tuple(sorted(extras)), int(qty)


def same_lines(actual: list[dict], expected: list[Line]) -> bool:
    """The same lines, whatever their order; identical lines added twice count as one (the cart
    merges them) of the summed quantity."""
    def merged(keys):
        out: dict[tuple, int] = {}
        for name, size, extras, qty in keys:
            out[(name, size, extras)] = out.get((name, size, extras), 0) + qty
        return out
    return merged(key(li) for li in actual) == merged(key(li) for li in expected)


def the_new_order(state) -> dict | None:
    """The one order placed in this episode (None when there is none, or more than one)."""
    new = state.data.get("new_orders", [])
    return new[0] if len(new) == 1 and new[0]["status"] == "preparing" else None


def order_ok(state, p: dict[str, Any], *, lines: list[Line] | None = None) -> dict | None:
    """The common order check: the lines, the street, the payment (card: its last four digits), ASAP
    unless a time was asked for, no tip unless one was asked for. Returns the order when it passes."""
    order = the_new_order(state)
    if order is None or not same_lines(order["lines"], lines if lines is not None else p["lines"]):
        return None
    if norm_street(order["street"]) != norm_street(p["street"]) or order["payment_method"] != p["payment"]:
        return None
    if p["payment"] == "card":
        pay_ = order.get("payment") or {}
        if pay_.get("status") != "approved" or pay_.get("card_last4") != p["card"]["number"].replace(" ", "")[-4:]:
            return None
    if order["delivery_time"] != p.get("time", "As soon as possible"):
        return None
    if p.get("tip", "No tip") == "No tip" and order["tip"] != 0:
        return None
    return order


def cart_untouched_orders(state) -> bool:
    """No order placed and no earlier order changed (for tasks that only edit the cart)."""
    return not state.data.get("new_orders") and all(
        o["status"] in ("delivered", "preparing") for o in state.data.get("seeded_orders", []))
