"""Tests for the demo catalogue generator and the shipped ``catalogue.jsonl``."""

from __future__ import annotations

import collections
import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import pytest

from hybrid_search.demo import catalogue_path, load_catalogue
from hybrid_search.demo.generate import (
    BRANDS,
    CATEGORY_CODES,
    DATE_MAX,
    DATE_MIN,
    HEROES,
    generate,
    to_jsonl,
)

Product = dict[str, Any]
# fmt: off
FIELDS = {
    "sku", "title", "brand", "category", "description", "attributes", "color", "material",
    "in_stock", "price", "margin", "inventory_received_at", "popularity",
}
TEXT_FIELDS = (
    "sku", "title", "brand", "category", "description", "attributes", "color", "material",
)
TEMPLATE = Path(__file__).resolve().parents[2] / "index_templates" / "products.json"
REAL_HOUSES = (
    "gucci", "prada", "chanel", "hermès", "hermes", "louis vuitton", "dior", "fendi", "celine",
    "balenciaga", "bottega", "saint laurent", "valentino", "loewe", "burberry", "cartier",
    "rolex", "omega", "tiffany", "bulgari", "givenchy", "versace", "armani", "miu miu",
)
# fmt: on


@pytest.fixture(scope="module")
def products() -> list[Product]:
    return generate()


def test_generate_is_deterministic(products: list[Product]) -> None:
    assert generate() == products
    assert to_jsonl(generate(50, seed=3)) == to_jsonl(generate(50, seed=3))


def test_seed_and_size_change_the_output(products: list[Product]) -> None:
    other = generate(seed=8)
    assert other != products
    assert len(other) == len(products)
    assert len(generate(25)) == 25
    assert generate(0) == []
    with pytest.raises(ValueError, match="n must be"):
        generate(-1)


def test_shipped_file_matches_generator_exactly(products: list[Product]) -> None:
    path = catalogue_path()
    assert path.is_file()
    assert path.read_text(encoding="utf-8") == to_jsonl(products), (
        "catalogue.jsonl is stale: run `python -m hybrid_search.demo.generate`"
    )
    assert load_catalogue() == products


def test_shipped_lines_have_sorted_keys() -> None:
    for line in catalogue_path().read_text(encoding="utf-8").splitlines():
        keys = list(json.loads(line))
        assert keys == sorted(keys)


def test_size_and_categories(products: list[Product]) -> None:
    assert len(products) >= 500
    counts = collections.Counter(p["category"] for p in products)
    assert len(counts) >= 10
    assert set(counts) == set(CATEGORY_CODES)
    assert min(counts.values()) >= 15


def test_fields_match_index_template(products: list[Product]) -> None:
    for product in products:
        assert set(product) == FIELDS
    if TEMPLATE.is_file():
        mapped = json.loads(TEMPLATE.read_text())["template"]["mappings"]["properties"]
        assert set(mapped) - {"embedding"} == FIELDS


def test_skus_are_unique_and_encode_the_category(products: list[Product]) -> None:
    skus = [p["sku"] for p in products]
    assert len(set(skus)) == len(skus)
    for product in products:
        match = re.fullmatch(r"LX-([A-Z]{3})-(\d{5})", product["sku"])
        assert match, product["sku"]
        assert match.group(1) == CATEGORY_CODES[product["category"]]


def test_text_fields(products: list[Product]) -> None:
    for p in products:
        for field in TEXT_FIELDS:
            assert isinstance(p[field], str), field
            assert p[field].strip() == p[field] != "", field
        assert p["title"].startswith(p["brand"] + " ")
        assert not re.search(r"[{}]", p["description"]), p["description"]
        sentences = re.findall(r"[.!?](?:\s|$)", p["description"])
        assert 1 <= len(sentences) <= 3, p["description"]
        assert p["description"][0].isupper()
        assert p["description"].endswith(".")
        for pair in p["attributes"].split("; "):
            assert re.fullmatch(r"[a-z][a-z ]*: [^:;]+", pair), p["attributes"]


def test_titles_and_descriptions_are_varied(products: list[Product]) -> None:
    assert len({p["title"] for p in products}) >= 0.95 * len(products)
    assert len({(p["title"], p["color"]) for p in products}) == len(products)
    assert len({p["description"] for p in products}) >= 0.9 * len(products)


def test_brands_are_fictional_and_consistent(products: list[Product]) -> None:
    brands = {p["brand"] for p in products}
    assert len(brands) >= 20
    assert brands <= set(BRANDS)
    for brand in brands:
        assert not any(real in brand.lower() for real in REAL_HOUSES), brand
    for p in products:
        assert CATEGORY_CODES[p["category"]] in BRANDS[p["brand"]], p["sku"]


def test_materials_suit_the_category(products: list[Product]) -> None:
    for p in products:
        if p["category"] in ("fragrance", "watches", "jewellery", "sunglasses", "scarves"):
            assert not re.search(r"leather|skin", p["material"]), p["sku"]


def test_numeric_fields(products: list[Product]) -> None:
    for p in products:
        assert type(p["in_stock"]) is bool
        for field in ("price", "margin", "popularity"):
            assert type(p[field]) is float, field
        assert 80 <= p["price"] <= 45000
        assert round(p["price"], 2) == p["price"]
        assert 0.05 <= p["margin"] <= 0.75
        assert round(p["margin"], 3) == p["margin"]
        assert p["popularity"] >= 0
        assert round(p["popularity"], 2) == p["popularity"]


def test_price_is_plausible_per_category(products: list[Product]) -> None:
    prices = {
        cat: sorted(p["price"] for p in products if p["category"] == cat) for cat in CATEGORY_CODES
    }
    median = {cat: values[len(values) // 2] for cat, values in prices.items()}
    assert median["fragrance"] < median["shoes"] < median["handbags"] < median["watches"]


def test_commercial_distributions(products: list[Product]) -> None:
    in_stock = sum(p["in_stock"] for p in products) / len(products)
    assert 0.75 <= in_stock <= 0.95
    popularity = sorted(p["popularity"] for p in products)
    assert popularity.count(0.0) >= 5
    median = popularity[len(popularity) // 2]
    assert popularity[-1] > 10 * median  # long tail: a few bestsellers, many slow movers
    assert len({p["margin"] for p in products}) > 100


def test_received_dates_are_iso_and_in_range(products: list[Product]) -> None:
    dates = []
    for p in products:
        value = p["inventory_received_at"]
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", value)
        dates.append(dt.date.fromisoformat(value))
    assert min(dates) >= DATE_MIN
    assert max(dates) <= DATE_MAX
    assert DATE_MIN.isoformat() == "2025-01-01"
    assert DATE_MAX.isoformat() == "2026-11-15"
    assert (max(dates) - min(dates)).days > 365


def test_showcase_products_for_semantic_search(products: list[Product]) -> None:
    titles = {p["title"] for p in products}
    assert all(hero[2] in titles for hero in HEROES)
    text = " ".join(p["title"] + " " + p["description"] for p in products).lower()
    for phrase in (
        "shower-proof gabardine",
        "carryall",
        "black-tie",
        "chronograph",
        "water resistant to 100 m",
        "overnight holdall",
    ):
        assert phrase in text, phrase
    trench = next(p for p in products if "shower-proof gabardine" in p["description"])
    assert "rain" not in (trench["title"] + trench["description"]).lower()
