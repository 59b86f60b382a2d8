"""Template field roles, document validation and filter parsing."""

from __future__ import annotations

import copy
import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from hybrid_search.documents import embedding_text, parse_filters, validate_document
from hybrid_search.errors import InvalidRequestError, TemplateError
from hybrid_search.templates import default_templates_dir, load_template, parse_template

TEMPLATE_PATH = default_templates_dir() / "products.json"


def body():
    return json.loads(TEMPLATE_PATH.read_text())


def test_roles(template):
    assert template.id_field == "sku"
    assert template.vector.dimension == 384 and template.vector.space_type == "cosinesimil"
    assert (template.vector.m, template.vector.ef_construction) == (32, 512)
    assert template.lexical_fields["title"] == 3.0 and "brand.text" in template.lexical_fields
    assert set(template.commercial_fields) == {"margin", "received_at", "popularity"}
    assert (
        template.fields["brand"].kind == "keyword" and template.fields["brand.text"].kind == "text"
    )
    assert template.fields["price"].kind == "number"


@pytest.mark.parametrize(
    ("mutate", "pointer"),
    [
        (
            lambda b: b["template"]["mappings"]["properties"]["embedding"].pop("dimension"),
            "/embedding/dimension",
        ),
        (
            lambda b: b["template"]["mappings"]["properties"]["embedding"]["method"].update(
                space_type="dotp"
            ),
            "space_type",
        ),
        (
            lambda b: b["template"]["mappings"]["properties"]["embedding"]["method"][
                "parameters"
            ].pop("m"),
            "parameters/m",
        ),
        (
            lambda b: b["_meta"]["hybrid_search"]["lexical_fields"].update(nope=1.0),
            "lexical_fields/nope",
        ),
        (
            lambda b: b["_meta"]["hybrid_search"]["filter_fields"].append("description"),
            "filter_fields/7",
        ),
        (
            lambda b: b["_meta"]["hybrid_search"]["commercial_fields"].update(margin="title"),
            "commercial_fields/margin",
        ),
        (lambda b: b["_meta"]["hybrid_search"].update(id_field="title"), "id_field"),
        (
            lambda b: b["template"]["mappings"]["properties"]["price"].update(type="money"),
            "/price/type",
        ),
    ],
)
def test_bad_template_names_file_and_pointer(mutate, pointer):
    b = copy.deepcopy(body())
    mutate(b)
    with pytest.raises(TemplateError) as err:
        parse_template(b, path=TEMPLATE_PATH, name="products")
    assert str(TEMPLATE_PATH) in str(err.value) and pointer in str(err.value)


def test_missing_template_lists_available(tmp_path: Path):
    (tmp_path / "other.json").write_text("{}")
    with pytest.raises(TemplateError, match="other"):
        load_template("products", tmp_path)


def test_invalid_json(tmp_path: Path):
    (tmp_path / "products.json").write_text("{ nope")
    with pytest.raises(TemplateError, match="line 1"):
        load_template("products", tmp_path)


GOOD = {
    "sku": "A-1",
    "title": "Red bag",
    "price": 10,
    "in_stock": True,
    "color": ["red", "gold"],
    "inventory_received_at": "2026-01-02",
}


def test_valid_document(template):
    doc = validate_document(dict(GOOD), template)
    assert doc["price"] == 10.0 and isinstance(doc["price"], float)


@pytest.mark.parametrize(
    ("patch", "fragment"),
    [
        ({"price": "cheap"}, "field 'price': 'cheap'"),
        ({"price": float("inf")}, "field 'price'"),
        ({"in_stock": "yes"}, "field 'in_stock': 'yes' is not a boolean"),
        ({"colour": "red"}, "field 'colour' is not in the template"),
        ({"inventory_received_at": "yesterday"}, "not an ISO date"),
        ({"embedding": [0.1]}, "computed by the sidecar"),
        ({"color": [""]}, "field 'color'"),
        ({"title": 3}, "field 'title': 3 is not a string"),
        ({"sku": "x" * 600}, "at most 512"),
    ],
)
def test_invalid_documents_name_field_and_value(template, patch, fragment):
    with pytest.raises(InvalidRequestError, match=fragment.replace("(", r"\(")):
        validate_document({**GOOD, **patch}, template)


def test_required_fields(template):
    with pytest.raises(InvalidRequestError, match="'title' is required"):
        validate_document({"sku": "A"}, template)
    with pytest.raises(InvalidRequestError, match="not a JSON object"):
        validate_document(["sku"], template)


def test_embedding_text_order(template):
    doc = {
        "sku": "1",
        "title": "Tote",
        "brand": "B",
        "color": ["red", "gold"],
        "description": "Roomy.",
    }
    assert embedding_text(doc, template) == "Tote. B. red, gold. Roomy."


def test_filters(template):
    clauses = parse_filters(
        {"brand": "B", "color": ["red", "blue"], "in_stock": True, "price": {"gte": 10, "lt": 20}},
        template,
    )
    by_field = {c.field: c for c in clauses}
    assert by_field["color"].values == ("red", "blue")
    assert (by_field["price"].gte, by_field["price"].lt) == (10.0, 20.0)
    point = parse_filters({"price": 15}, template)[0]
    assert (point.gte, point.lte) == (15.0, 15.0)


@pytest.mark.parametrize(
    ("filters", "fragment"),
    [
        ({"title": "x"}, "filter field 'title' is not filterable; allowed"),
        ({"price": "cheap"}, "filter 'price': 'cheap'"),
        ({"brand": {"gte": 1}}, "ranges are only allowed"),
        ({"price": {"over": 1}}, "allowed: \\['gt', 'gte', 'lt', 'lte'\\]"),
        ({"in_stock": "true"}, "not a valid boolean"),
        ({"color": []}, "empty list"),
    ],
)
def test_bad_filters(template, filters, fragment):
    with pytest.raises(InvalidRequestError, match=fragment):
        parse_filters(filters, template)


def test_too_many_filters(template):
    with pytest.raises(InvalidRequestError, match="at most 1"):
        parse_filters({"brand": "a", "color": "b"}, template, max_filters=1)


def test_keyword_filters_are_normalised_as_the_template_says(template):
    clauses = parse_filters({"brand": "Maison AURELLE", "color": ["Black", "BLACK", "İ"]}, template)
    by_field = {c.field: c for c in clauses}
    assert by_field["brand"].values == ("maison aurelle",)
    assert by_field["color"].values == ("black", "i")  # one code point each, as Lucene does
    raw = body()
    del raw["template"]["mappings"]["properties"]["color"]["normalizer"]
    plain = parse_template(raw, path=TEMPLATE_PATH, name="products")
    assert parse_filters({"color": "Black"}, plain)[0].values == ("Black",)


@pytest.mark.parametrize(
    ("mutate", "fragment"),
    [
        (
            lambda b: b["template"]["mappings"]["properties"]["color"].update(normalizer="fold"),
            "/color/normalizer: expected a normalizer declared under settings.analysis",
        ),
        (
            lambda b: b["template"]["settings"]["analysis"]["normalizer"].update(
                lowercase={"type": "custom", "filter": ["lowercase", "asciifolding"]}
            ),
            "/normalizer/lowercase: expected ",
        ),
    ],
)
def test_a_normalizer_both_backends_cannot_apply_is_refused(mutate, fragment):
    raw = body()
    mutate(raw)
    with pytest.raises(TemplateError, match=fragment):
        parse_template(raw, path=TEMPLATE_PATH, name="products")


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"margin": 7}, "field 'margin': 7 is out of range; allowed: margin in [0, 1]"),
        ({"price": -5}, "field 'price': -5 is out of range; allowed: price >= 0"),
        ({"popularity": -50}, "field 'popularity': -50 is out of range; allowed: popularity >= 0"),
        (
            {"inventory_received_at": "2026-11-02"},
            "field 'inventory_received_at': '2026-11-02' is out of range (now is "
            "2026-11-01T12:00:00+00:00); allowed: inventory_received_at <= now (not in the future)",
        ),
    ],
)
def test_values_outside_the_template_bounds_are_refused(template, doc, message):
    now = datetime(2026, 11, 1, 12, tzinfo=timezone.utc)
    with pytest.raises(InvalidRequestError) as caught:
        validate_document({"sku": "S", "title": "T", **doc}, template, now=now)
    assert message in str(caught.value)


def test_values_on_the_template_bounds_are_accepted(template):
    now = datetime(2026, 11, 1, 12, tzinfo=timezone.utc)
    for doc in (
        {"margin": 0, "price": 0, "popularity": 0, "inventory_received_at": "2026-11-01"},
        {"margin": 1, "inventory_received_at": "2026-11-01T12:00:00Z"},
    ):
        validate_document({"sku": "S", "title": "T", **doc}, template, now=now)


@pytest.mark.parametrize(
    ("bounds", "fragment"),
    [
        ({"title": {"gte": 0}}, "/bounds/title: expected a top-level number or date field"),
        ({"margin": {"min": 0}}, '/bounds/margin: expected an object with "gte" and/or "lte"'),
        ({"margin": {"gte": "0"}}, "/bounds/margin/gte: expected a finite number"),
        ({"margin": {"gte": 1, "lte": 0}}, "/bounds/margin/gte: expected at most lte"),
        (
            {"inventory_received_at": {"gte": "now"}},
            "/bounds/inventory_received_at/gte: expected an ISO date",
        ),
    ],
)
def test_bad_bounds_name_the_pointer(bounds, fragment):
    raw = body()
    raw["_meta"]["hybrid_search"]["bounds"] = bounds
    with pytest.raises(TemplateError) as caught:
        parse_template(raw, path=TEMPLATE_PATH, name="products")
    assert fragment in str(caught.value)
