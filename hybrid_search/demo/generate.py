"""Deterministic generator for the demo luxury-fashion product catalogue.

Every house, product and sentence here is invented for this project. The output depends only on
``n`` and ``seed`` (a private ``random.Random``), so the shipped ``catalogue.jsonl`` can be
rebuilt byte for byte with ``python -m hybrid_search.demo.generate``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import random
from pathlib import Path
from typing import Any

from hybrid_search.demo._tables import BRANDS
from hybrid_search.demo._tables import DEFAULT_ORIGINS as _DEFAULT_ORIGINS
from hybrid_search.demo._tables import MATERIAL_FACTOR as _MATERIAL_FACTOR
from hybrid_search.demo._tables import ORIGINS as _ORIGINS
from hybrid_search.demo._tables import TABLE as _TABLE

DATE_MIN, DATE_MAX = dt.date(2025, 1, 1), dt.date(2026, 11, 15)
PRICE_MIN, PRICE_MAX = 80.0, 45000.0
MARGIN_MIN, MARGIN_MAX = 0.05, 0.75
OUTPUT_PATH = Path(__file__).with_name("catalogue.jsonl")


def _split(text: str, sep: str = ",") -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(sep) if part.strip())


def _pairs(text: str) -> dict[str, str]:
    return {k.strip(): v.strip() for k, _, v in (p.partition(":") for p in _split(text, ";"))}


Pools = dict[str, tuple[str, ...]]


def _parse_table(
    table: str,
) -> tuple[dict[str, dict[str, Any]], Pools, Pools, tuple[tuple[str, ...], ...]]:
    """Parse ``_TABLE`` into categories, craft pools, style pools and showcase products."""
    lines: list[str] = []
    for raw in table.splitlines():
        if raw.startswith("  "):
            lines[-1] += " " + raw.strip()
        elif raw.strip():
            lines.append(raw.strip())
    categories: dict[str, dict[str, Any]] = {}
    pools: dict[str, Pools] = {"craft": {}, "style": {}}
    heroes: list[tuple[str, ...]] = []
    spec: dict[str, Any] = {}
    for line in lines:
        tag, _, rest = line.partition(" ")
        fields = [part.strip() for part in rest.split("|")]
        if tag == "=":
            name, code, weight, price, margin, family = fields
            low, high = price.split("-")
            spec = categories[name] = {
                "code": code,
                "weight": int(weight),
                "family": family,
                "price": (int(low), int(high)),
                "margin": float(margin),
                "color_of": {},
                "items": [],
            }
        elif tag == "+":
            name, nouns, mats, use, attrs, desc = [*fields, "", ""][:6]
            spec["items"].append(
                {
                    "name": name,
                    "nouns": _split(nouns),
                    "use": use,
                    "materials": _split(mats),
                    "attrs": _pairs(attrs),
                    "descriptors": _split(desc),
                }
            )
        elif tag == "*":
            heroes.append(tuple(fields))
        elif tag in pools:
            family, _, text = rest.partition(" ")
            pools[tag][family] = _split(text, "||")
        elif tag == "attrs":
            spec["attrs"] = {key: _split(opts) for key, opts in _pairs(rest).items()}
        elif tag == "color_of":
            spec["color_of"] = _pairs(rest)
        else:  # colors, descriptors, uses
            spec[tag] = _split(rest, "||" if tag == "uses" else ",")
    return categories, pools["craft"], pools["style"], tuple(heroes)


CATEGORIES, _CRAFT, _STYLE, HEROES = _parse_table(_TABLE)
#: Category name -> the code used in its SKUs ("handbags" -> "BAG").
CATEGORY_CODES: dict[str, str] = {name: spec["code"] for name, spec in CATEGORIES.items()}


def _article(word: str) -> str:
    vowel_sound = word[:1].lower() in "aeiou" or word.startswith(("8", "11", "18"))
    return ("an " if vowel_sound else "a ") + word


def _capitalise(sentence: str) -> str:
    return sentence[:1].upper() + sentence[1:]


def _round_price(value: float) -> float:
    step = 50 if value >= 2000 else 10 if value >= 500 else 5
    return float(min(PRICE_MAX, max(PRICE_MIN, round(value / step) * step)))


def _describe(
    rng: random.Random, spec: dict[str, Any], item: dict[str, Any], fields: dict[str, str]
) -> str:
    """Compose one to three sentences from the item, category and family pools."""
    family = spec["family"]
    use = item["use"] if rng.random() < 0.6 else rng.choice(spec["uses"])
    count = rng.choices((1, 2, 3), weights=(2, 5, 3))[0]
    sentences = [use]
    if count >= 2:
        sentences.insert(rng.randrange(2), rng.choice(_CRAFT[family]))
    if count == 3:
        sentences.append(rng.choice(_STYLE.get(family, _STYLE["wear"])))
    return " ".join(_capitalise(s.format(**fields)) for s in sentences)


def _attributes(
    rng: random.Random, spec: dict[str, Any], item: dict[str, Any]
) -> tuple[dict[str, str], str]:
    """All attribute values (item overrides win) and the "key: value; ..." text shown."""
    values = {key: rng.choice(options) for key, options in spec["attrs"].items()}
    values.update(item["attrs"])
    keys = list(values)
    shown = [k for i, k in enumerate(keys) if i == 0 or k in item["attrs"] or rng.random() < 0.65]
    if len(shown) < 2:
        shown.append(next(k for k in keys if k not in shown))
    return values, "; ".join(f"{k}: {values[k]}" for k in keys if k in shown)


def _commercial(rng: random.Random, spec: dict[str, Any], material: str) -> dict[str, Any]:
    """In-stock flag, price, margin, received date and long-tailed weekly popularity."""
    in_stock = rng.random() < 0.85
    low, high = spec["price"]
    price = math.exp(rng.uniform(math.log(low), math.log(high)))
    price *= _MATERIAL_FACTOR.get(material, 1.0)
    margin = min(MARGIN_MAX, max(MARGIN_MIN, spec["margin"] + rng.gauss(0.0, 0.05)))
    received = DATE_MIN + dt.timedelta(days=rng.randint(0, (DATE_MAX - DATE_MIN).days))
    if rng.random() < (0.05 if in_stock else 0.3):
        popularity = 0.0
    else:
        popularity = min(400.0, rng.lognormvariate(0.6, 1.15))
    return {
        "in_stock": in_stock,
        "price": _round_price(price),
        "margin": round(margin, 3),
        "inventory_received_at": received.isoformat(),
        "popularity": round(popularity, 2),
    }


def _random_product(rng: random.Random, category: str) -> dict[str, Any]:
    spec = CATEGORIES[category]
    item = rng.choice(spec["items"])
    material = rng.choice(item["materials"])
    houses = [b for b, codes in BRANDS.items() if spec["code"] in codes]
    brand = rng.choices(houses, weights=[1 if len(BRANDS[b]) > 2 else 4 for b in houses])[0]
    descriptor = rng.choice(item["descriptors"] or spec["descriptors"])
    color = spec["color_of"].get(material) or rng.choice(spec["colors"])
    values, attributes = _attributes(rng, spec, item)
    noun = rng.choice(item["nouns"])
    fields = {
        "brand": brand,
        "Brand": brand,
        "color": color,
        "material": material,
        "a_material": _article(material),
        "noun": noun,
        "this": "these" if noun.endswith("s") and noun[-2:] != "ss" else "this",
        "origin": rng.choice(_ORIGINS.get(spec["family"], _DEFAULT_ORIGINS)),
    }
    for key, value in values.items():
        key = key.replace(" ", "_")
        fields.update(
            {key: value, "a_" + key: _article(value), "A_" + key: _capitalise(_article(value))}
        )
    return {
        "brand": brand,
        "category": category,
        "color": color,
        "material": material,
        "title": f"{brand} {descriptor} {material} {item['name']}",
        "description": _describe(rng, spec, item, fields),
        "attributes": attributes,
    }


def generate(n: int = 600, seed: int = 7) -> list[dict[str, Any]]:
    """Generate the demo catalogue.

    The result depends only on ``n`` and ``seed``: the same arguments give the same products
    in the same order on every run and platform. The hand-written showcase products
    (``HEROES``) are spread evenly through the list; the rest come from the category tables.

    Args:
        n: Number of products to generate.
        seed: Seed for the private ``random.Random`` instance.

    Returns:
        Product dicts (keys sorted) matching the ``products`` index template minus the
        embedding: sku, title, brand, category, description, attributes, color, material,
        in_stock, price, margin, inventory_received_at and popularity.

    Raises:
        ValueError: If ``n`` is negative.
    """
    if n < 0:
        msg = f"n must be >= 0, got {n}"
        raise ValueError(msg)
    rng = random.Random(seed)
    heroes = HEROES[: min(n, len(HEROES))]
    hero_at = {i * n // len(heroes): hero for i, hero in enumerate(heroes)}
    names = list(CATEGORIES)
    weights = [CATEGORIES[name]["weight"] for name in names]
    seen = {(hero[2], hero[3]) for hero in heroes}
    products = []
    for index in range(n):
        if index in hero_at:
            category, brand, title, color, material, attributes, description = hero_at[index]
            product = {
                "brand": brand,
                "category": category,
                "color": color,
                "material": material,
                "title": title,
                "description": description,
                "attributes": attributes,
            }
        else:
            category = rng.choices(names, weights=weights)[0]
            for _ in range(50):  # avoid exact duplicate (title, colour) pairs
                product = _random_product(rng, category)
                if (product["title"], product["color"]) not in seen:
                    break
            seen.add((product["title"], product["color"]))
        product["sku"] = f"LX-{CATEGORY_CODES[category]}-{index + 1:05d}"
        product.update(_commercial(rng, CATEGORIES[category], product["material"]))
        products.append(dict(sorted(product.items())))
    return products


def to_jsonl(products: list[dict[str, Any]]) -> str:
    """Serialise products exactly as shipped: one sorted-key JSON object per line.

    Args:
        products: Product dicts, e.g. from :func:`generate`.

    Returns:
        JSON Lines text (UTF-8, non-ASCII kept), every line ending in a newline.
    """
    return "".join(json.dumps(p, sort_keys=True, ensure_ascii=False) + "\n" for p in products)


def main(argv: list[str] | None = None) -> None:
    """Rewrite the shipped catalogue (or ``--out``) from :func:`generate`.

    Args:
        argv: Command-line arguments; defaults to ``sys.argv[1:]``.
    """
    parser = argparse.ArgumentParser(description="Write the demo catalogue as JSON Lines.")
    parser.add_argument("-n", type=int, default=600, help="number of products (default 600)")
    parser.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    parser.add_argument("--out", type=Path, default=OUTPUT_PATH, help="output JSONL path")
    args = parser.parse_args(argv)
    products = generate(args.n, args.seed)
    with open(args.out, "w", encoding="utf-8", newline="\n") as handle:
        handle.write(to_jsonl(products))
    print(f"wrote {len(products)} products to {args.out}")  # noqa: T201


if __name__ == "__main__":
    main()
