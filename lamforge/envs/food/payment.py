"""Checkout validation: the delivery form, the payment method and the card form, with the messages
a real shop shows (card numbers are Luhn-checked; an expiry date must lie ahead; a card whose number
ends in 0002 is declined by the "bank", like the test cards of payment providers)."""

from __future__ import annotations

import datetime as dt
import random
import re
from typing import Any

from lamforge.envs.food.menu import DELIVERY_TIMES, TIPS, money

DECLINED_SUFFIX = "0002"


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def make_card(rng: random.Random, declined: bool = False) -> str:
    """A 16-digit Luhn-valid Visa-style number, grouped by four (declined: ends in 0002)."""
    while True:
        if declined:
            number = "4" + "".join(str(rng.randrange(10)) for _ in range(11)) + DECLINED_SUFFIX
            if not luhn_ok(number):
                continue
        else:
            body = "4" + "".join(str(rng.randrange(10)) for _ in range(14))
            number = body + next(d for d in "0123456789" if luhn_ok(body + d))
        if len(number) == 16 and number.endswith(DECLINED_SUFFIX) == declined:
            return " ".join(number[i:i + 4] for i in range(0, 16, 4))


def _expiry_ok(text: str, today: dt.date) -> bool:
    m = re.fullmatch(r"\s*(\d{1,2})\s*/\s*(\d{2}|\d{4})\s*", text)
    if not m:
        return False
    month, year = int(m.group(1)), int(m.group(2))
    year = year + 2000 if year < 100 else year
    return 1 <= month <= 12 and (year, month) >= (today.year, today.month)


def validate_checkout(form: dict[str, str], cart: dict[str, Any], today: dt.date | None = None) -> dict[str, Any]:
    """The cleaned checkout form, or CheckoutError naming each bad field."""
    from lamforge.envs.food.db import CheckoutError

    today = today or dt.date.today()
    get = lambda k: (form.get(k) or "").strip()
    errors: dict[str, str] = {}
    if not cart["lines"]:
        raise CheckoutError({"cart": "Your cart is empty."})
    if cart["subtotal"] < cart["min_order"]:
        errors["cart"] = (f"The minimum order is {money(cart['min_order'])}; your subtotal is "
                          f"{money(cart['subtotal'])}. Add more items.")
    street = " ".join(get("street").split())
    if not street:
        errors["street"] = "Enter a street address."
    elif not re.search(r"\d", street) or not re.search(r"[A-Za-z]{2}", street):
        errors["street"] = "Enter a street address with a house number, e.g. 12 Main St."
    city = get("city")
    if not city:
        errors["city"] = "Enter a city."
    when = get("delivery_time") or DELIVERY_TIMES[0]
    if when not in DELIVERY_TIMES:
        errors["delivery_time"] = "Choose a delivery time from the list."
    tip = get("tip") or "No tip"
    if tip not in TIPS:
        errors["tip"] = "Choose a tip from the list."
    payment = get("payment")
    clean: dict[str, Any] = {"street": street, "city": city, "delivery_time": when, "tip": tip,
                             "instructions": get("instructions"), "payment": payment, "declined": False}
    if payment not in ("card", "cash"):
        errors["payment"] = "Choose how you will pay: credit card or cash on delivery."
    elif payment == "card":
        digits = re.sub(r"[\s-]", "", get("card_number"))
        if not digits:
            errors["card_number"] = "Enter the card number."
        elif not digits.isdigit() or len(digits) != 16 or not luhn_ok(digits):
            errors["card_number"] = "The card number is not valid; check the 16 digits."
        if not _expiry_ok(get("card_expiry"), today):
            errors["card_expiry"] = "Enter the expiry date as MM/YY; the card must not have expired."
        if not re.fullmatch(r"\d{3,4}", get("card_cvc")):
            errors["card_cvc"] = "Enter the 3-digit security code (CVC) from the back of the card."
        if not get("card_name"):
            errors["card_name"] = "Enter the name on the card."
        clean.update(card_last4=digits[-4:], card_name=get("card_name"), declined=digits.endswith(DECLINED_SUFFIX))
    if errors:
        raise CheckoutError(errors)
    return clean
