"""The store's database: customers, products, orders, items, returns, labels, refunds and notes.

One schema (SQLAlchemy Core) used through a URL, so the same code runs on the SQLite file of an
episode (the default) and on PostgreSQL (``LAMFORGE_SERVICE_DB_URL=postgresql://...``).

Each template is a store whose data is generated deterministically from its name: the same template
always gives the same customers, orders and ids, which is what lets a task family write a request
("return the jeans from order 4417") and its reference solution without opening the database.
"""

from __future__ import annotations

import random
import zlib
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from sqlalchemy import (
    Column,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    delete,
    insert,
    select,
)
from sqlalchemy.engine import Engine
from sqlalchemy.pool import NullPool

metadata = MetaData()

customers = Table(
    "customers", metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(80), nullable=False),
    Column("email", String(120), nullable=False),
    Column("phone", String(40)),
    Column("city", String(60)),
    Column("tier", String(20)),
    Column("store_credit", Float, nullable=False, default=0.0),
)
products = Table(
    "products", metadata,
    Column("sku", String(20), primary_key=True),
    Column("name", String(80), nullable=False),
    Column("category", String(40)),
    Column("price", Float, nullable=False),
)
orders = Table(
    "orders", metadata,
    Column("id", Integer, primary_key=True),
    Column("customer_id", Integer, ForeignKey("customers.id"), nullable=False),
    Column("status", String(20), nullable=False),  # pending | shipped | delivered | cancelled
    Column("placed_on", String(10)),
    Column("shipping_method", String(20)),  # standard | express | overnight
    Column("address", Text),
    Column("total", Float, nullable=False),
)
items = Table(
    "items", metadata,
    Column("id", Integer, primary_key=True),
    Column("order_id", Integer, ForeignKey("orders.id"), nullable=False),
    Column("sku", String(20), ForeignKey("products.sku")),
    Column("name", String(80)),
    Column("size", String(10)),
    Column("quantity", Integer, nullable=False),
    Column("price", Float, nullable=False),
    Column("status", String(20), nullable=False, default="ok"),  # ok | return_open | refunded
)
returns = Table(
    "returns", metadata,
    Column("id", String(30), primary_key=True),  # RMA-<order>-<n>
    Column("order_id", Integer, ForeignKey("orders.id"), nullable=False),
    Column("item_id", Integer, ForeignKey("items.id"), nullable=False),
    Column("reason", Text),
    Column("status", String(20), nullable=False),  # open | label_created
)
labels = Table(
    "labels", metadata,
    Column("id", String(30), primary_key=True),
    Column("return_id", String(30), ForeignKey("returns.id"), nullable=False),
    Column("carrier", String(20)),
    Column("tracking_number", String(40)),
    Column("url", Text),
    Column("cost", Float),
)
refunds = Table(
    "refunds", metadata,
    Column("id", String(30), primary_key=True),
    Column("order_id", Integer, ForeignKey("orders.id"), nullable=False),
    Column("item_id", Integer),
    Column("amount", Float, nullable=False),
    Column("reason", Text),
)
notes = Table(
    "notes", metadata,
    Column("id", Integer, primary_key=True),
    Column("customer_id", Integer, ForeignKey("customers.id"), nullable=False),
    Column("text", Text, nullable=False),
)
TABLES = (customers, products, orders, items, returns, labels, refunds, notes)

# --- the stores (templates) ------------------------------------------------------------------

CATALOGS: dict[str, list[tuple[str, str, float, tuple[str, ...]]]] = {
    # category: (name, short name used in requests, price, sizes)
    "apparel": [("Slim Fit Jeans", "jeans", 59.0, ("30", "32", "34")),
                ("Cotton T-Shirt", "t-shirt", 19.5, ("S", "M", "L")),
                ("Zip Hoodie", "hoodie", 45.0, ("M", "L", "XL")),
                ("Canvas Sneakers", "sneakers", 64.0, ("41", "42", "43")),
                ("Rain Jacket", "rain jacket", 89.0, ("M", "L")),
                ("Wool Scarf", "scarf", 24.0, ("",)),
                ("Leather Belt", "belt", 32.0, ("M", "L"))],
    "outdoor": [("Two-Person Tent", "tent", 179.0, ("",)),
                ("Down Sleeping Bag", "sleeping bag", 149.0, ("",)),
                ("Trail Backpack 30L", "backpack", 99.0, ("",)),
                ("Hiking Boots", "hiking boots", 129.0, ("42", "43", "44")),
                ("Camping Stove", "camping stove", 54.0, ("",)),
                ("Trekking Poles", "trekking poles", 69.0, ("",))],
    "electronics": [("Wireless Headphones", "headphones", 129.0, ("",)),
                    ("USB-C Charger", "charger", 29.0, ("",)),
                    ("Mechanical Keyboard", "keyboard", 89.0, ("",)),
                    ("Wireless Mouse", "mouse", 39.0, ("",)),
                    ("27-inch Monitor", "monitor", 249.0, ("",)),
                    ("Webcam HD", "webcam", 59.0, ("",))],
    "home": [("Desk Lamp", "lamp", 42.0, ("",)),
             ("Electric Kettle", "kettle", 35.0, ("",)),
             ("Bath Towel Set", "towel set", 48.0, ("",)),
             ("Linen Cushion", "cushion", 22.0, ("",)),
             ("Ceramic Mug Set", "mug set", 28.0, ("",)),
             ("Cotton Duvet Cover", "duvet cover", 74.0, ("S", "D", "K"))],
}
STORES = {  # template name -> (catalogue, cities)
    "threads-apparel": ("apparel", ("Lyon", "Porto", "Ghent", "Bremen")),
    "urban-apparel": ("apparel", ("Austin", "Denver", "Boston", "Portland")),
    "summit-outdoor": ("outdoor", ("Bergen", "Innsbruck", "Grenoble", "Bozeman")),
    "volt-electronics": ("electronics", ("Leeds", "Cork", "Malmo", "Turku")),
    "nest-home": ("home", ("Utrecht", "Lille", "Aarhus", "Bilbao")),
    "cove-home": ("home", ("Halifax", "Hobart", "Nelson", "Galway")),
}
FIRST = ("Ana", "Ben", "Chloe", "Dev", "Elena", "Farid", "Grace", "Hugo", "Ines", "Jonas", "Kira", "Liam", "Maya",
         "Noah", "Olga", "Pablo", "Rosa", "Sam", "Tara", "Umar", "Vera", "Wei", "Yara", "Zoe")
LAST = ("Adams", "Berg", "Costa", "Dubois", "Evans", "Fischer", "Garcia", "Hansen", "Ito", "Jensen", "Khan",
        "Lopez", "Moreau", "Novak", "Olsen", "Patel", "Quinn", "Rossi", "Silva", "Tanaka", "Urban", "Weber")
STREETS = ("Mill Lane", "Harbour Road", "Church Street", "Station Road", "Park Avenue", "Elm Way", "Quay Street")
STATUSES = ("pending", "pending", "shipped", "delivered", "delivered", "delivered")


@dataclass
class StoreData:
    """One template's rows, generated in Python (tasks read them without a database)."""

    name: str
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def customer(self, cid: int) -> dict:
        return next(c for c in self.rows["customers"] if c["id"] == cid)

    def order(self, oid: int) -> dict:
        return next(o for o in self.rows["orders"] if o["id"] == oid)

    def order_items(self, oid: int) -> list[dict]:
        return [i for i in self.rows["items"] if i["order_id"] == oid]


@cache
def store_data(template: str) -> StoreData:
    if template not in STORES:
        raise KeyError(f"no store template {template!r}; known: {', '.join(STORES)}")
    catalogue, cities = STORES[template]
    rng = random.Random(zlib.crc32(template.encode()))
    data = StoreData(template)
    prods = [{"sku": f"{catalogue[:2].upper()}-{100 + i}", "name": n, "category": catalogue, "price": p}
             for i, (n, _short, p, _sizes) in enumerate(CATALOGS[catalogue])]
    people = rng.sample([(f, m) for f in FIRST for m in LAST], 36)
    domain = template.split("-")[0] + "mail.example"
    custs = [{"id": 100 + i, "name": f"{f} {m}", "email": f"{f.lower()}.{m.lower()}{rng.randrange(10, 99)}@{domain}",
              "phone": f"+1-555-{rng.randrange(1000, 9999)}", "city": rng.choice(cities),
              "tier": rng.choice(("standard", "standard", "gold")), "store_credit": 0.0}
             for i, (f, m) in enumerate(people)]
    order_ids = rng.sample(range(1000, 9999), 90)
    ords, its = [], []
    item_id = rng.randrange(20000, 30000)
    for k, oid in enumerate(order_ids):
        cust = custs[k % len(custs)]
        chosen = rng.sample(range(len(prods)), rng.choice((1, 1, 2, 2, 3)))
        total = 0.0
        for pi in chosen:
            name, _short, price, sizes = CATALOGS[catalogue][pi]
            qty = rng.choice((1, 1, 1, 2))
            its.append({"id": item_id, "order_id": oid, "sku": prods[pi]["sku"], "name": name,
                        "size": rng.choice(sizes), "quantity": qty, "price": price, "status": "ok"})
            item_id += rng.randrange(1, 9)
            total += price * qty
        ords.append({"id": oid, "customer_id": cust["id"], "status": rng.choice(STATUSES),
                     "placed_on": f"2026-{rng.randrange(1, 11):02d}-{rng.randrange(1, 28):02d}",
                     "shipping_method": rng.choice(("standard", "standard", "express")),
                     "address": f"{rng.randrange(1, 120)} {rng.choice(STREETS)}, {cust['city']}",
                     "total": round(total, 2)})
    data.rows = {"customers": custs, "products": prods, "orders": ords, "items": its, "returns": [],
                 "labels": [], "refunds": [], "notes": []}
    return data


def short_name(item_name: str) -> str:
    """How a request names a product ("Slim Fit Jeans" -> "jeans")."""
    for entries in CATALOGS.values():
        for name, short, _p, _s in entries:
            if name == item_name:
                return short
    return item_name.lower()


# --- engines -----------------------------------------------------------------------------------

def engine_for(url: str) -> Engine:
    # NullPool: no connection outlives a call, so the SQLite file can be copied (cloned) at any time
    return create_engine(url, poolclass=NullPool, future=True)


def seed(engine: Engine, template: str) -> None:
    """(Re)create every table and fill it with the template's rows."""
    metadata.drop_all(engine)
    metadata.create_all(engine)
    data = store_data(template)
    with engine.begin() as conn:
        for table in TABLES:
            rows = data.rows.get(table.name, [])
            if rows:
                conn.execute(insert(table), rows)


def dump(engine: Engine) -> dict[str, list[dict]]:
    """Every row of every table (state cloning on servers other than SQLite)."""
    with engine.connect() as conn:
        return {t.name: [dict(r._mapping) for r in conn.execute(select(t))] for t in TABLES}


def load(engine: Engine, rows: dict[str, list[dict]]) -> None:
    with engine.begin() as conn:
        for table in reversed(TABLES):
            conn.execute(delete(table))
        for table in TABLES:
            if rows.get(table.name):
                conn.execute(insert(table), rows[table.name])
