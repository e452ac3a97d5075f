"""Families that place an order from the menu through checkout; each check reads the order the
episode placed from the database (lines, address, payment, time, tip, promo, notes)."""

from __future__ import annotations

import random

from lamforge.envs.food.menu import DELIVERY_TIMES, MIN_ORDER, TIPS
from lamforge.envs.food.tasks.common import (
    FoodFamily,
    add_line,
    card,
    checkout,
    finish,
    gui,
    line_total,
    mains,
    order_ok,
    pay,
    pick_line,
    say_card,
    say_line,
    street,
)

CASH = ("pay on delivery", "I'll pay cash on delivery", "cash on delivery", "I'm paying in cash at the door")


class _Order(FoodFamily):
    """One or more lines, an address and a payment; subclasses add one twist each."""

    payment = "cash"
    n_extras = 0

    def lines(self, rng, menu) -> list[list]:
        return [pick_line(rng, menu, extras=self.n_extras, category=mains(menu), min_total=MIN_ORDER)]

    def extra_params(self, rng, menu, lines) -> dict:
        return {}

    def build(self, rng: random.Random):
        template, seed, menu = self.start(rng)
        lines = self.lines(rng, menu)
        params = {"menu_seed": seed, "lines": lines, "street": street(rng), "payment": self.payment}
        if self.payment == "card":
            params["card"] = card(rng)
        params.update(self.extra_params(rng, menu, lines))
        values = {"what": " and ".join(say_line(li) for li in lines), "street": params["street"],
                  "cash": rng.choice(CASH), "card": say_card(params["card"]) if "card" in params else "",
                  "shop": menu.name, **{k: v for k, v in params.items() if isinstance(v, str)}}
        return self.make_task(rng, self.word(rng, **values), template, **params)

    def check(self, task, state):
        return order_ok(state, task.params) is not None

    def solution(self, task):
        p, menu = task.params, self.menu(task)
        actions = [a for li in p["lines"] for a in add_line(menu, li)]
        return actions + checkout(p["street"], p["payment"], p.get("card"))


class OrderItemCash(_Order):
    name = "order_item_cash"
    description = "Order one dish to an address and pay on delivery."
    requests = ("order {what} to {street}, {cash}.", "Please get me {what} delivered to {street}; {cash}.",
                "I'd like {what} from {shop}, delivered to {street}. {Cash}.",
                "deliver {what} to {street} - {cash}.")


class OrderWithExtras(_Order):
    name = "order_with_extras"
    description = "Order a dish with extra toppings, pay on delivery."
    n_extras = 2
    requests = ("order {what} to {street}, {cash}.", "Can you order {what} for delivery to {street}? {Cash}.",
                "Get {what} sent to {street}; {cash}.")


class OrderQuantity(_Order):
    name = "order_quantity"
    description = "Order several of one item."
    requests = ("order {what} to {street}, {cash}.", "I need {what} delivered to {street}. {Cash}.",
                "Please send {what} to {street}, {cash}.")

    def lines(self, rng, menu):
        qty = rng.randint(2, 5)
        category = rng.choice(menu.categories[1:])
        try:
            return [pick_line(rng, menu, quantity=qty, category=category, min_total=MIN_ORDER)]
        except LookupError:
            return [pick_line(rng, menu, quantity=qty, min_total=MIN_ORDER)]


class OrderPayCard(_Order):
    name = "order_pay_card"
    description = "Order a dish and pay by credit card."
    payment = "card"
    requests = ("order {what} to {street} and pay by credit card: {card}.",
                "Get me {what} delivered to {street}. Pay with my {card}.",
                "I want {what} at {street}; charge it to {card}.")


class OrderTwoItems(_Order):
    name = "order_two_items"
    description = "Order two different items in one order."
    requests = ("order {what} to {street}, {cash}.", "Please order {what} for delivery to {street}; {cash}.",
                "Deliver {what} to {street}. {Cash}.")

    def lines(self, rng, menu):
        first = pick_line(rng, menu, category=mains(menu))
        second = pick_line(rng, menu, category=rng.choice(menu.categories[1:]), exclude=(first[0],))
        if line_total(menu, first) + line_total(menu, second) < MIN_ORDER:
            first[3] = 2
        return [first, second]


class OrderWithPromo(_Order):
    name = "order_with_promo"
    description = "Order with a promo code applied in the cart."
    requests = ("order {what} to {street} using the promo code '{promo}', {cash}.",
                "Use code '{promo}' and order {what} delivered to {street}; {cash}.",
                "I have a discount code, '{promo}'. Order {what} to {street} with it. {Cash}.")

    def lines(self, rng, menu):
        code = next(p for p in menu.promos if p.kind == "percent" and not p.expired)
        for qty in (2, 3, 4):
            try:
                return [pick_line(rng, menu, category=mains(menu), quantity=qty,
                                  min_total=max(MIN_ORDER, code.min_subtotal))]
            except LookupError:
                continue
        raise LookupError(f"{menu.name}: nothing reaches the code's minimum")

    def extra_params(self, rng, menu, lines):
        ok = [p for p in menu.promos if not p.expired and sum(line_total(menu, li) for li in lines) >= p.min_subtotal]
        return {"promo": rng.choice(ok).code}

    def check(self, task, state):
        order = order_ok(state, task.params)
        return order is not None and (order["promo_code"] or "").upper() == task.params["promo"].upper()

    def solution(self, task):
        p, menu = task.params, self.menu(task)
        actions = [a for li in p["lines"] for a in add_line(menu, li)]
        return actions + checkout(p["street"], p["payment"], promo=p["promo"])


class OrderScheduled(_Order):
    name = "order_scheduled"
    description = "Order for a later delivery time."
    requests = ("order {what} to {street} for delivery at {time}, {cash}.",
                "Schedule {what} to arrive at {street} at {time}; {cash}.",
                "I'd like {what} delivered to {street} at {time}, not now. {Cash}.")

    def extra_params(self, rng, menu, lines):
        return {"time": rng.choice(DELIVERY_TIMES[1:])}

    def solution(self, task):
        p, menu = task.params, self.menu(task)
        actions = [a for li in p["lines"] for a in add_line(menu, li)]
        return actions + checkout(p["street"], p["payment"], time=p["time"])


INSTRUCTIONS = ("Leave it at the door", "Ring the bell twice", "Call me when you arrive", "Side entrance please",
                "Do not ring the bell, baby sleeping", "Hand it to the doorman")


class OrderWithInstructions(_Order):
    name = "order_with_instructions"
    description = "Order with delivery instructions for the driver."
    requests = ("order {what} to {street}, {cash}. Tell the driver: '{instructions}'.",
                "Get {what} delivered to {street} with the delivery note '{instructions}'; {cash}.",
                "Order {what} for {street} ({cash}) and add the instructions '{instructions}'.")

    def extra_params(self, rng, menu, lines):
        return {"instructions": rng.choice(INSTRUCTIONS)}

    def check(self, task, state):
        order = order_ok(state, task.params)
        return order is not None and task.params["instructions"].lower() in order["instructions"].lower()

    def solution(self, task):
        p, menu = task.params, self.menu(task)
        actions = [a for li in p["lines"] for a in add_line(menu, li)]
        return actions + checkout(p["street"], p["payment"], instructions=p["instructions"])


class OrderWithTip(_Order):
    name = "order_with_tip"
    description = "Order and tip the driver a percentage."
    requests = ("order {what} to {street} with a {tip} tip for the driver, {cash}.",
                "Deliver {what} to {street}; add a {tip} tip. {Cash}.",
                "Order {what} to {street}, tip {tip}, {cash}.")

    def extra_params(self, rng, menu, lines):
        return {"tip": rng.choice([t for t in TIPS if t != "No tip"])}

    def check(self, task, state):
        order = order_ok(state, task.params)
        return order is not None and order["tip"] == order["subtotal"] * TIPS[task.params["tip"]] // 100

    def solution(self, task):
        p, menu = task.params, self.menu(task)
        actions = [a for li in p["lines"] for a in add_line(menu, li)]
        return actions + checkout(p["street"], p["payment"], tip=p["tip"])


NOTES = ("no onions", "well done", "extra napkins", "cut in half", "no ice", "sauce on the side", "not too spicy")


class OrderItemNote(_Order):
    name = "order_item_note"
    description = "Order a dish with special instructions for the kitchen."
    requests = ("order {what} to {street} - special instructions: '{note}'. {Cash}.",
                "Get {what} delivered to {street}, and ask the kitchen for '{note}'; {cash}.",
                "I want {what} ('{note}') at {street}, {cash}.")

    def extra_params(self, rng, menu, lines):
        return {"note": rng.choice(NOTES)}

    def check(self, task, state):
        order = order_ok(state, task.params)
        return order is not None and all(task.params["note"].lower() in li["note"].lower() for li in order["lines"])

    def solution(self, task):
        p, menu = task.params, self.menu(task)
        return add_line(menu, p["lines"][0], note=p["note"]) + checkout(p["street"], p["payment"])


class OrderSubstituteSoldOut(_Order):
    name = "order_substitute_sold_out"
    description = "Ask for a sold-out dish with a fallback; order the fallback."
    requests = ("order {wanted} to {street}; if it's sold out, get {what} instead. {Cash}.",
                "I'd like {wanted} delivered to {street}, or {what} if they don't have it. {Cash}.",
                "Try to order {wanted} for {street}. If it is unavailable, order {what}. {Cash}.")

    def build(self, rng):
        template, seed, menu = self.start(rng)
        gone = rng.choice(menu.sold_out())
        size = rng.choice(gone.sizes) if gone.sizes else None
        wanted = [gone.name, size, [], 1]
        lines = [pick_line(rng, menu, category=gone.category, min_total=MIN_ORDER, exclude=(gone.name,))
                 if gone.category == mains(menu) else pick_line(rng, menu, category=mains(menu), min_total=MIN_ORDER)]
        params = {"menu_seed": seed, "wanted": wanted, "lines": lines, "street": street(rng), "payment": "cash"}
        request = self.word(rng, wanted=say_line(wanted), what=say_line(lines[0]), street=params["street"],
                            cash=rng.choice(CASH))
        return self.make_task(rng, request, template, **params)

    def solution(self, task):
        # the reference looks first (the item page says "sold out"), then orders the fallback
        p, menu = task.params, self.menu(task)
        return ([gui("click", p["wanted"][0]), gui("click", "Back to menu"), *add_line(menu, p["lines"][0])]
                + checkout(p["street"], p["payment"]))


class OrderDeclinedCard(_Order):
    name = "order_declined_card_fallback"
    description = "Pay by card; the card is declined, so pay on delivery instead."
    payment = "cash"
    requests = ("order {what} to {street} and pay with {card}. If the card is declined, pay cash on delivery.",
                "Get {what} delivered to {street}; try my {card}, and if that fails switch to cash on delivery.",
                "Order {what} for {street}. Pay by {card}; should it be declined, pay on delivery.")

    def extra_params(self, rng, menu, lines):
        return {"card": card(rng, declined=True)}

    def check(self, task, state):
        return order_ok(state, task.params) is not None

    def solution(self, task):
        p, menu = task.params, self.menu(task)
        actions = [a for li in p["lines"] for a in add_line(menu, li)]
        actions += [gui("click", "View cart"), gui("click", "Go to checkout"),
                    gui("fill", "Street address", text=p["street"]), *pay("card", p["card"]),
                    gui("click", "Place order"), gui("click", "Cash on delivery")]
        return finish(actions + [gui("click", "Place order")])


FAMILIES = [OrderItemCash(), OrderWithExtras(), OrderQuantity(), OrderPayCard(), OrderTwoItems(),
            OrderWithPromo(), OrderScheduled(), OrderWithInstructions(), OrderWithTip(), OrderItemNote(),
            OrderSubstituteSoldOut(), OrderDeclinedCard()]
