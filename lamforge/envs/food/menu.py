"""Restaurants and their menus, generated deterministically from a template (the kind of restaurant)
and a seed: the same ``(template, seed)`` always gives the same name, items, sizes, extras, prices,
sold-out items, promo codes and order history. Task families read the menu to write a request and
its reference solution without opening the database; the site seeds its database from the same
object, so the two always agree.

    >>> menu = build_menu("pizzeria", 7)
    >>> menu.name, [i.name for i in menu.items][:3]
    >>> menu.item("Margherita").unit_price("Large", ["Extra cheese"])   # cents
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from functools import lru_cache

# kind -> (restaurant names, city pool, {category: (item names, sizes, extras pool, price range $)})
Category = tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], tuple[float, float]]
KINDS: dict[str, tuple[tuple[str, ...], dict[str, Category]]] = {
    "pizzeria": (
        ("Luigi's Pizzeria", "Napoli Express", "Slice of Heaven", "Forno Rosso", "Mamma Mia Pizza"),
        {
            "Pizzas": (("Margherita", "Pepperoni", "Bacon-Potato Pizza", "Four Cheese", "Veggie Supreme",
                        "Hawaiian", "BBQ Chicken", "Mushroom Truffle", "Spicy Salami"),
                       ("Small", "Medium", "Large"),
                       ("Extra cheese", "Olives", "Jalapenos", "Mushrooms", "Red onions", "Fresh basil",
                        "Pineapple", "Anchovies"), (8.0, 13.0)),
            "Sides": (("Garlic Bread", "Chicken Wings", "Caesar Salad", "Mozzarella Sticks"), (),
                      ("Ranch dip", "Garlic dip", "Parmesan"), (4.0, 8.0)),
            "Drinks": (("Coke", "Sprite", "Lemonade", "Sparkling Water", "Iced Tea"), ("Regular", "Large"),
                       ("Ice", "Lemon slice"), (1.5, 3.0)),
            "Desserts": (("Tiramisu", "Chocolate Brownie", "Gelato"), (), ("Whipped cream",), (3.5, 6.0)),
        },
    ),
    "burgers": (
        ("Smash Shack", "Patty Palace", "The Burger Yard", "Grill & Bun", "Route 66 Burgers"),
        {
            "Burgers": (("Classic Burger", "Cheeseburger", "Bacon Burger", "Mushroom Swiss Burger",
                         "Veggie Burger", "Chicken Sandwich", "Smash Burger"),
                        ("Single", "Double"),
                        ("Extra cheese", "Bacon", "Avocado", "Fried egg", "Pickles", "Jalapenos",
                         "Caramelized onions"), (7.5, 12.0)),
            "Sides": (("Fries", "Sweet Potato Fries", "Onion Rings", "Coleslaw"), ("Small", "Large"),
                      ("Cheese sauce", "Truffle salt", "Ketchup"), (3.0, 5.5)),
            "Drinks": (("Vanilla Milkshake", "Coke", "Root Beer", "Lemonade"), ("Regular", "Large"),
                       ("Ice", "Whipped cream"), (1.75, 5.5)),
        },
    ),
    "sushi": (
        ("Sakura Sushi", "Tokyo Roll House", "Umi Sushi Bar", "Koi Kitchen", "Wasabi Garden"),
        {
            "Rolls": (("California Roll", "Spicy Tuna Roll", "Dragon Roll", "Salmon Avocado Roll",
                       "Eel Cucumber Roll", "Vegetable Roll", "Rainbow Roll"),
                      ("6 pieces", "12 pieces"),
                      ("Spicy mayo", "Eel sauce", "Extra wasabi", "Extra ginger", "Soy paper",
                       "Sesame seeds"), (6.0, 12.0)),
            "Nigiri": (("Salmon Nigiri", "Tuna Nigiri", "Shrimp Nigiri"), ("2 pieces", "4 pieces"),
                       ("Extra wasabi", "Seared"), (4.0, 7.0)),
            "Starters": (("Miso Soup", "Edamame", "Seaweed Salad", "Pork Gyoza"), (),
                         ("Chili oil", "Sea salt"), (3.0, 6.5)),
            "Drinks": (("Green Tea", "Ramune", "Sparkling Water"), (), ("Ice",), (2.0, 3.5)),
        },
    ),
    "tacos": (
        ("Taqueria El Sol", "Casa Verde", "Burrito Bros", "La Palma Tacos", "Salsa Street"),
        {
            "Tacos": (("Carne Asada Tacos", "Al Pastor Tacos", "Fish Tacos", "Chicken Tinga Tacos",
                       "Carnitas Tacos"), ("2 tacos", "3 tacos"),
                      ("Guacamole", "Sour cream", "Pickled onions", "Extra salsa", "Cotija cheese"),
                      (6.0, 10.0)),
            "Burritos & Bowls": (("Chicken Burrito", "Bean Burrito", "Steak Burrito", "Carnitas Bowl",
                                  "Veggie Bowl"), ("Regular", "Large"),
                                 ("Guacamole", "Sour cream", "Extra rice", "Jalapenos", "Queso"), (8.0, 12.0)),
            "Sides": (("Chips & Salsa", "Elote", "Black Beans"), (), ("Extra lime", "Queso"), (3.0, 5.0)),
            "Drinks": (("Horchata", "Jarritos", "Agua Fresca"), ("Regular", "Large"), ("Ice",), (2.0, 4.0)),
        },
    ),
    "cafe": (
        ("Bean There Cafe", "Morning Ritual", "The Daily Grind", "Cafe Aurora", "Copper Kettle"),
        {
            "Coffee": (("Cappuccino", "Latte", "Flat White", "Americano", "Mocha", "Chai Latte"),
                       ("Small", "Medium", "Large"),
                       ("Oat milk", "Extra shot", "Vanilla syrup", "Caramel syrup", "Whipped cream",
                        "Almond milk"), (2.75, 4.75)),
            "Breakfast": (("Avocado Toast", "Breakfast Burrito", "Bagel with Cream Cheese",
                           "Ham & Cheese Croissant", "Granola Bowl"), (),
                          ("Poached egg", "Smoked salmon", "Extra avocado", "Honey"), (5.0, 10.0)),
            "Bakery": (("Blueberry Muffin", "Butter Croissant", "Cinnamon Roll", "Banana Bread"), (),
                       ("Warmed up", "Butter"), (2.5, 4.5)),
            "Cold Drinks": (("Iced Latte", "Fresh Orange Juice", "Iced Tea"), ("Regular", "Large"),
                            ("Oat milk", "Extra ice"), (3.0, 5.0)),
        },
    ),
}
TEMPLATES = tuple(KINDS)
CITIES = ("Springfield", "Riverton", "Lakeside", "Fairview", "Maple Grove", "Oakdale")
STREETS = ("Main St", "Oak Ave", "Elm St", "Park Rd", "Cedar Ln", "Lake Dr", "Hill St", "River Rd",
           "Church St", "Mill Ln", "Pine Ave", "Station Rd")
DELIVERY_TIMES = ("As soon as possible", "12:00", "12:30", "13:00", "18:00", "18:30", "19:00", "19:30",
                  "20:00", "20:30")
TIPS = {"No tip": 0, "10%": 10, "15%": 15, "20%": 20}
SIZE_STEP = {0: 0, 1: 250, 2: 500}  # cents added per size step above the smallest
MIN_ORDER = 800  # cents


@dataclass(frozen=True)
class Extra:
    name: str
    price: int  # cents


@dataclass(frozen=True)
class Item:
    id: int
    name: str
    category: str
    description: str
    base_price: int  # cents, smallest size
    sizes: tuple[str, ...]  # empty: one size only
    extras: tuple[Extra, ...]
    in_stock: bool = True

    def size_delta(self, size: str | None) -> int:
        if not self.sizes:
            return 0
        return SIZE_STEP.get(self.sizes.index(size), 0) if size in self.sizes else 0

    def unit_price(self, size: str | None = None, extras: tuple[str, ...] | list[str] = ()) -> int:
        by_name = {e.name: e.price for e in self.extras}
        return self.base_price + self.size_delta(size) + sum(by_name[e] for e in extras)

    def label(self, size: str | None) -> str:
        """How the cart names a line: ``Margherita (Large)``."""
        return f"{self.name} ({size})" if size else self.name


@dataclass(frozen=True)
class Promo:
    code: str
    kind: str  # percent | free_delivery | amount
    value: int  # percent, or cents
    min_subtotal: int  # cents
    expired: bool = False

    def describe(self) -> str:
        what = {"percent": f"{self.value}% off", "free_delivery": "free delivery",
                "amount": f"${self.value / 100:.2f} off"}[self.kind]
        return f"{what} on orders over ${self.min_subtotal / 100:.2f}" if self.min_subtotal else what


@dataclass(frozen=True)
class PastOrder:
    number: str
    status: str  # delivered | preparing
    street: str
    lines: tuple[tuple[str, str | None, tuple[str, ...], int], ...]  # (item, size, extras, quantity)
    payment: str  # cash | card
    placed_at: str


@dataclass(frozen=True)
class Menu:
    template: str
    seed: int
    name: str
    city: str
    delivery_fee: int
    items: tuple[Item, ...]
    promos: tuple[Promo, ...]
    past_orders: tuple[PastOrder, ...] = field(default=())

    def item(self, name: str) -> Item:
        for i in self.items:
            if i.name == name:
                return i
        raise KeyError(f"{self.name} has no item {name!r}")

    def in_stock(self, category: str | None = None) -> list[Item]:
        return [i for i in self.items if i.in_stock and (category is None or i.category == category)]

    def sold_out(self) -> list[Item]:
        return [i for i in self.items if not i.in_stock]

    @property
    def categories(self) -> list[str]:
        return list(dict.fromkeys(i.category for i in self.items))

    def promo(self, code: str) -> Promo | None:
        return next((p for p in self.promos if p.code.lower() == code.strip().lower()), None)


def _price(rng: random.Random, low: float, high: float) -> int:
    """A menu price in cents on a quarter-dollar step."""
    return round(rng.uniform(low, high) * 4) * 25


@lru_cache(maxsize=1024)
def build_menu(template: str, seed: int) -> Menu:
    if template not in KINDS:
        raise KeyError(f"no restaurant kind {template!r}; known: {', '.join(KINDS)}")
    rng = random.Random(f"{template}:{seed}")
    names, categories = KINDS[template]
    items: list[Item] = []
    for category, (pool, sizes, extras_pool, (low, high)) in categories.items():
        k = min(len(pool), rng.randint(max(2, len(pool) - 3), len(pool) - 1) if len(pool) > 3 else len(pool))
        for name in sorted(rng.sample(pool, k), key=pool.index):
            extras = rng.sample(extras_pool, min(len(extras_pool), rng.randint(2, 4)))
            items.append(Item(
                id=len(items) + 1, name=name, category=category,
                description=f"{name} from our {category.lower()} menu, made to order.",
                base_price=_price(rng, low, high), sizes=sizes,
                extras=tuple(Extra(e, rng.choice((50, 75, 100, 125, 150))) for e in sorted(extras, key=extras_pool.index)),
            ))
    # one main dish and maybe one other item are sold out today
    first = items[0].category
    out = {rng.choice([i.id for i in items if i.category == first])}
    if rng.random() < 0.5:
        out.add(rng.choice([i.id for i in items if i.category != first]))
    items = [replace(i, in_stock=i.id not in out) for i in items]
    pct = rng.choice((10, 15, 20))
    word = rng.choice(("SAVE", "HUNGRY", "TASTY", "YUM", "WELCOME"))
    promos = (
        Promo(f"{word}{pct}", "percent", pct, rng.choice((1500, 2000))),
        Promo(rng.choice(("FREEDEL", "NOFEE", "FREESHIP")), "free_delivery", 0, 0),
        Promo(rng.choice(("TAKE5", "FIVEOFF", "TREAT5")), "amount", 500, 2500),
        Promo(rng.choice(("SUMMER", "SPRING", "WINTER")) + str(rng.choice((10, 25))), "percent", 25, 0, expired=True),
    )
    menu = Menu(template=template, seed=seed, name=rng.choice(names), city=rng.choice(CITIES),
                delivery_fee=rng.choice((199, 249, 299, 349)), items=tuple(items), promos=promos)
    return replace(menu, past_orders=_past_orders(menu, rng))


def _past_orders(menu: Menu, rng: random.Random) -> tuple[PastOrder, ...]:
    """Two earlier orders: one delivered (can be ordered again), one still being prepared (can be
    cancelled). Only in-stock items, so a re-order can go through."""
    out = []
    base = rng.randint(1000, 8999)
    for n, status in enumerate(("delivered", "preparing")):
        picks = rng.sample(menu.in_stock(), 2)
        lines = tuple((i.name, rng.choice(i.sizes) if i.sizes else None,
                       tuple(e.name for e in rng.sample(i.extras, rng.randint(0, 1))), rng.randint(1, 2))
                      for i in picks)
        while sum(menu.item(n).unit_price(sz, ex) * q for n, sz, ex, q in lines) < MIN_ORDER:
            # an order under the minimum could not have been placed (nor be placed again)
            lines = ((lines[0][0], lines[0][1], lines[0][2], lines[0][3] + 1), *lines[1:])
        out.append(PastOrder(number=f"F-{base + n * rng.randint(3, 40)}", status=status,
                             street=random_street(rng), lines=lines, payment=rng.choice(("cash", "card")),
                             placed_at=f"2026-0{rng.randint(1, 9)}-{rng.randint(10, 28)} 19:{rng.randint(10, 59)}"))
    return tuple(out)


def random_street(rng: random.Random) -> str:
    return f"{rng.randint(1, 250)} {rng.choice(STREETS)}"


def money(cents: int) -> str:
    return f"${cents / 100:.2f}"
