"""Families on the cart and the order history: short ones that edit a pre-filled cart, and ones
that start from an earlier order (order it again, cancel it) or check out a cart already filled."""

from __future__ import annotations

import random

from lamforge.envs.food.menu import MIN_ORDER
from lamforge.envs.food.tasks.common import (
    FoodFamily,
    add_line,
    card,
    cart_untouched_orders,
    checkout,
    finish,
    gui,
    line_total,
    mains,
    order_ok,
    pick_line,
    same_lines,
    say_card,
    say_line,
    street,
)


def _cart(rng: random.Random, menu, n: int) -> list[list]:
    """A pre-filled cart of ``n`` different items (distinct names, so each line's controls differ)."""
    lines: list[list] = []
    for i in range(n):
        category = mains(menu) if i == 0 else None
        line = pick_line(rng, menu, category=category, exclude=tuple(li[0] for li in lines),
                         extras=rng.randint(0, 1))
        line[3] = rng.randint(1, 2)
        lines.append(line)
    return lines


def _label(line: list) -> str:
    name, size = line[0], line[1]
    return f"{name} ({size})" if size else name


class CartAddItem(FoodFamily):
    name = "cart_add_item"
    description = "Put one item in the cart without ordering."
    requests = ("put {what} in my cart, but don't order yet.", "Add {what} to the cart.",
                "Just add {what} to my basket for now.")

    def build(self, rng):
        template, seed, menu = self.start(rng)
        line = pick_line(rng, menu)
        return self.make_task(rng, self.word(rng, what=say_line(line)), template, menu_seed=seed, lines=[line])

    def check(self, task, state):
        return cart_untouched_orders(state) and same_lines(state.data["cart"], task.params["lines"])

    def solution(self, task):
        return finish(add_line(self.menu(task), task.params["lines"][0]))


class CartRemoveItem(FoodFamily):
    name = "cart_remove_item"
    description = "Remove one line from a pre-filled cart."
    requests = ("remove the {item} from my cart.", "Take the {item} out of the cart, I changed my mind.",
                "I don't want the {item} any more; delete it from my cart.")

    def build(self, rng):
        template, seed, menu = self.start(rng)
        cart = _cart(rng, menu, rng.randint(2, 3))
        gone = rng.choice(cart)
        return self.make_task(rng, self.word(rng, item=gone[0]), template, menu_seed=seed, cart=cart,
                              remove=gone[0])

    def check(self, task, state):
        p = task.params
        return cart_untouched_orders(state) and same_lines(state.data["cart"],
                                                           [li for li in p["cart"] if li[0] != p["remove"]])

    def solution(self, task):
        line = next(li for li in task.params["cart"] if li[0] == task.params["remove"])
        return finish([gui("click", "View cart"), gui("click", f"Remove {_label(line)}")])


class CartChangeQuantity(FoodFamily):
    name = "cart_change_quantity"
    description = "Change how many of one cart line to order."
    requests = ("change the quantity of {item} in my cart to {n}.", "I want {n} of the {item}, not {old}; fix the cart.",
                "Make it {n} x {item} in the cart.")

    def build(self, rng):
        template, seed, menu = self.start(rng)
        cart = _cart(rng, menu, rng.randint(1, 3))
        target = rng.choice(cart)
        n = rng.choice([q for q in range(1, 7) if q != target[3]])
        return self.make_task(rng, self.word(rng, item=target[0], n=n, old=target[3]), template, menu_seed=seed,
                              cart=cart, item=target[0], quantity=n)

    def check(self, task, state):
        p = task.params
        want = [[*li[:3], p["quantity"] if li[0] == p["item"] else li[3]] for li in p["cart"]]
        return cart_untouched_orders(state) and same_lines(state.data["cart"], want)

    def solution(self, task):
        p = task.params
        line = next(li for li in p["cart"] if li[0] == p["item"])
        return finish([gui("click", "View cart"), gui("fill", f"Quantity of {_label(line)}", text=str(p["quantity"])),
                       gui("click", f"Update {_label(line)}")])


class CartApplyPromo(FoodFamily):
    name = "cart_apply_promo"
    description = "Apply a promo code to a pre-filled cart (an expired or too-small code is refused)."
    requests = ("apply the promo code '{code}' to my cart.", "Use the discount code '{code}' on my basket.",
                "I got a coupon, '{code}'. Add it to my cart.")

    def build(self, rng):
        template, seed, menu = self.start(rng)
        cart = _cart(rng, menu, 2)
        subtotal = sum(line_total(menu, li) for li in cart)
        promo = rng.choice([p for p in menu.promos if not p.expired and p.min_subtotal <= subtotal])
        return self.make_task(rng, self.word(rng, code=promo.code), template, menu_seed=seed, cart=cart,
                              promo=promo.code)

    def check(self, task, state):
        p = task.params
        return (cart_untouched_orders(state) and (state.data["promo"] or "").upper() == p["promo"].upper()
                and same_lines(state.data["cart"], p["cart"]))

    def solution(self, task):
        return finish([gui("click", "View cart"), gui("fill", "Promo code", text=task.params["promo"]),
                       gui("click", "Apply code")])


class CancelOrder(FoodFamily):
    name = "cancel_order"
    description = "Cancel the order that is still being prepared."
    requests = ("cancel my order {number}.", "Please cancel order {number}, I don't need it any more.",
                "Order {number} was a mistake: cancel it.")

    def build(self, rng):
        template, seed, menu = self.start(rng)
        number = next(o.number for o in menu.past_orders if o.status == "preparing")
        return self.make_task(rng, self.word(rng, number=number), template, menu_seed=seed, number=number)

    def check(self, task, state):
        status = {o["number"]: o["status"] for o in state.data["seeded_orders"]}
        others = [s for n, s in status.items() if n != task.params["number"]]
        return (status.get(task.params["number"]) == "cancelled" and "cancelled" not in others
                and not state.data["new_orders"])

    def solution(self, task):
        return finish([gui("click", "Your orders"), gui("click", f"Order {task.params['number']}"),
                       gui("click", "Cancel order")])


class ReorderPastOrder(FoodFamily):
    name = "reorder_past_order"
    description = "Order the same items as an earlier order again."
    requests = ("order the same as my order {number} again, to {street}, {cash}.",
                "Repeat order {number}: deliver it to {street} and {cash}.",
                "I loved order {number}. Get me exactly that again at {street}; {cash}.")

    def build(self, rng):
        template, seed, menu = self.start(rng)
        past = next(o for o in menu.past_orders if o.status == "delivered")
        lines = [[n, s, list(e), q] for n, s, e, q in past.lines]
        params = {"menu_seed": seed, "number": past.number, "lines": lines, "street": street(rng),
                  "payment": "cash"}
        request = self.word(rng, number=past.number, street=params["street"], cash="pay on delivery")
        return self.make_task(rng, request, template, **params)

    def check(self, task, state):
        return order_ok(state, task.params) is not None

    def solution(self, task):
        p = task.params
        return [gui("click", "Your orders"), gui("click", f"Order {p['number']}"), gui("click", "Order again"),
                *checkout(p["street"], p["payment"], from_cart=True)]


class CheckoutCart(FoodFamily):
    name = "checkout_cart"
    description = "Check out a cart that is already filled, paying by card."
    requests = ("check out my cart: deliver to {street} and pay with {card}.",
                "My cart is ready. Send it to {street}, paying by {card}.",
                "Place the order in my cart for delivery to {street}; use {card}.")

    def build(self, rng):
        template, seed, menu = self.start(rng)
        cart = _cart(rng, menu, 2)
        while sum(line_total(menu, li) for li in cart) < MIN_ORDER:
            cart[0][3] += 1
        params = {"menu_seed": seed, "cart": cart, "lines": cart, "street": street(rng), "payment": "card",
                  "card": card(rng), "start": "/cart"}
        request = self.word(rng, street=params["street"], card=say_card(params["card"]))
        return self.make_task(rng, request, template, **params)

    def check(self, task, state):
        return order_ok(state, task.params) is not None

    def solution(self, task):
        p = task.params
        return checkout(p["street"], p["payment"], p["card"], from_cart=True)


FAMILIES = [CartAddItem(), CartRemoveItem(), CartChangeQuantity(), CartApplyPromo(), CancelOrder(),
            ReorderPastOrder(), CheckoutCart()]
