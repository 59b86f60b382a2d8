"""``_meta.hybrid_search.vector_blocks`` in an index template: parsing and every refusal."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest

from hybrid_search.blocks import parse_blocks
from hybrid_search.errors import TemplateError
from hybrid_search.templates import (
    check_vector_space,
    knn_dimension,
    load_template,
    parse_template,
)

TEMPLATES = Path(__file__).resolve().parents[2] / "index_templates"
BODY = json.loads((TEMPLATES / "products-behaviour.json").read_text(encoding="utf-8"))
PATH = Path("t.json")
KNN = "/template/mappings/properties/embedding"
BLOCKS = "/_meta/hybrid_search/vector_blocks"


def _parse(mutate=None):
    body = copy.deepcopy(BODY)
    if mutate is not None:
        mutate(body)
    return parse_template(body, path=PATH, name="t")


def _knn(body):
    return body["template"]["mappings"]["properties"]["embedding"]


def _meta(body):
    return body["_meta"]["hybrid_search"]


def test_products_behaviour_layout():
    template = load_template("products-behaviour")
    layout = template.blocks
    assert layout is not None
    assert [(b.name, b.dimension, b.weight) for b in layout.blocks] == [
        ("text", 384, 1.0),
        ("behaviour", 32, 0.5),
    ]
    behaviour = layout.blocks[1]
    assert (behaviour.inverse_popularity, behaviour.popularity_reference) == (0.25, 1.8)
    assert template.vector.dimension == 416 == layout.dimension
    assert template.vector.space_type == "innerproduct"
    assert knn_dimension(template, 384) == 416
    assert template.text_similarity_scale == 1.0


def test_products_stays_text_only():
    template = load_template("products")
    assert template.blocks is None
    assert knn_dimension(template, 384) == 384
    assert template.text_similarity_scale == 1.0
    vec = np.arange(3, dtype=np.float32)
    assert template.query_vector(vec) is vec


def test_the_wheel_ships_the_template():
    # Installed without a checkout, templates come from hybrid_search/_bundled/index_templates,
    # which the wheel build fills with the whole folder.
    tomllib = pytest.importorskip("tomllib")
    pyproject = tomllib.loads((TEMPLATES.parent / "pyproject.toml").read_text(encoding="utf-8"))
    include = pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["force-include"]
    assert include["index_templates"] == "hybrid_search/_bundled/index_templates"
    assert (TEMPLATES / "products-behaviour.json").is_file()


def test_query_vector_pads_and_the_scale_is_the_text_weight():
    def text_weight_2(body):
        _meta(body)["vector_blocks"][0]["weight"] = 2.0

    template = _parse(text_weight_2)
    assert template.text_similarity_scale == 2.0
    q = np.zeros(384, dtype=np.float32)
    q[:2] = [3.0, 4.0]
    padded = template.query_vector(q)
    assert padded.shape == (416,)
    assert padded[:2].tolist() == pytest.approx([0.6, 0.8])  # unit text block, not weighted
    assert not padded[384:].any()
    with pytest.raises(ValueError, match="query vector of length 383, the text block needs 384"):
        template.query_vector(np.ones(383, dtype=np.float32))


def test_a_text_block_of_another_dimension_than_the_model_is_refused():
    with pytest.raises(TemplateError) as err:
        knn_dimension(load_template("products-behaviour"), 768)
    msg = str(err.value)
    assert f"#{BLOCKS}/0/dimension" in msg
    assert "declares 384" in msg and "gives 768-d" in msg and "allowed: 768" in msg


@pytest.mark.parametrize(
    ("mutate", "pointer", "needle"),
    [
        (
            lambda b: _knn(b).update(dimension=400),
            f"{KNN}/dimension",
            "expected 416, the sum of the vector_blocks dimensions (text 384 + behaviour 32), "
            "got 400",
        ),
        (
            lambda b: _knn(b)["method"].update(space_type="cosinesimil"),
            f"{KNN}/method/space_type",
            "expected 'innerproduct' with vector_blocks",
        ),
        (
            lambda b: _knn(b)["method"].update(space_type="l2"),
            f"{KNN}/method/space_type",
            "got 'l2'",
        ),
        (
            lambda b: _meta(b)["vector_blocks"][0].update(weight=0),
            f"{BLOCKS}/0/weight",
            "expected a weight > 0 for the text block",
        ),
        (
            lambda b: _meta(b)["vector_blocks"][0].update(inverse_popularity=1.0),
            f"{BLOCKS}/0/inverse_popularity",
            "expected 0 for the text block",
        ),
        (
            lambda b: _meta(b)["vector_blocks"][1].pop("popularity_reference"),
            f"{BLOCKS}/1/popularity_reference",
            "expected a number > 0 whenever inverse_popularity > 0",
        ),
        (
            lambda b: _meta(b)["vector_blocks"][1].update(popularity_reference=0),
            f"{BLOCKS}/1/popularity_reference",
            "expected a finite number > 0, got 0",
        ),
        (
            lambda b: _meta(b)["commercial_fields"].pop("popularity"),
            "/_meta/hybrid_search/commercial_fields/popularity",
            "block 'behaviour' has inverse_popularity > 0",
        ),
        (
            lambda b: _meta(b)["vector_blocks"][1].update(weigth=0.5),
            f"{BLOCKS}/1/weigth",
            "unknown key; allowed: ['name', 'dimension', 'weight'",
        ),
        (
            lambda b: _meta(b)["vector_blocks"][1].update(dimension="32"),
            f"{BLOCKS}/1/dimension",
            "expected an integer >= 1, got '32'",
        ),
        (
            lambda b: _meta(b).update(vector_blocks=[{"name": "behaviour", "dimension": 416}]),
            BLOCKS,
            "a block named 'text' is required",
        ),
        (
            lambda b: b["template"]["mappings"]["properties"].update(vectors={"type": "keyword"}),
            "/template/mappings/properties/vectors",
            "expected no field named 'vectors'",
        ),
    ],
)
def test_a_bad_layout_is_refused_naming_pointer_value_and_allowed(mutate, pointer, needle):
    with pytest.raises(TemplateError) as err:
        _parse(mutate)
    msg = str(err.value)
    assert f"t.json#{pointer}" in msg, msg
    assert needle in msg, msg


def test_without_the_key_any_space_is_accepted():
    def text_only_cosine(body):
        del _meta(body)["vector_blocks"]
        _knn(body).update(dimension=384)
        _knn(body)["method"].update(space_type="cosinesimil")

    assert _parse(text_only_cosine).blocks is None


def test_a_magnitude_model_is_refused_with_blocks():
    class Magnitude:
        keeps_document_magnitude = True
        model_id = "trained/qnorm"

    with pytest.raises(TemplateError, match=r"#/_meta/hybrid_search/vector_blocks: model "):
        check_vector_space(load_template("products-behaviour"), Magnitude())
    check_vector_space(load_template("products-innerproduct"), Magnitude())  # no blocks: fine


def test_a_pinned_reference_gives_a_product_the_same_weight_in_any_batch():
    layout = parse_blocks(
        [
            {"name": "text", "dimension": 2},
            {
                "name": "behaviour",
                "dimension": 2,
                "weight": 0.5,
                "inverse_popularity": 1.0,
                "popularity_reference": 2.0,
            },
        ]
    )
    ones = {"text": np.ones((1, 2)), "behaviour": np.array([[3.0, 4.0]])}
    alone = layout.documents(ones, popularity=[6.0])
    batch = layout.documents(
        {"text": np.ones((3, 2)), "behaviour": np.array([[3.0, 4.0], [1, 0], [0, 1]])},
        popularity=[6.0, 100.0, 0.0],
    )
    # 0.5 / (1 + 6/2) = 0.125, whatever else is in the batch
    assert alone[0, 2:].tolist() == pytest.approx([0.6 * 0.125, 0.8 * 0.125])
    assert batch[0].tolist() == pytest.approx(alone[0].tolist())
    assert batch[2, 2:].tolist() == pytest.approx([0.0, 0.5])  # popularity 0: full weight


def test_split_and_keep_blocks():
    layout = load_template("products-behaviour").blocks
    assert layout is not None
    vec = np.arange(416, dtype=np.float32)
    parts = layout.split(vec)
    assert parts["text"].tolist() == list(range(384))
    assert parts["behaviour"].tolist() == list(range(384, 416))
    text_only = layout.keep(vec, ["text"])
    assert text_only[:384].tolist() == list(range(384)) and not text_only[384:].any()
    with pytest.raises(ValueError, match=r"unknown blocks \['image'\]; allowed: \['text', "):
        layout.keep(vec, ["image"])
    with pytest.raises(ValueError, match="length 10, the block layout needs 416"):
        layout.split(np.zeros(10))


def test_templates_check_shows_the_layout(monkeypatch, capsys):
    from hybrid_search.cli import main

    monkeypatch.setenv("HYBRID_SEARCH_TEMPLATE", "products-behaviour")
    main(["templates", "check"])  # 0 with the OpenSearch spec checked out, else 2 after the roles
    out = capsys.readouterr().out
    assert "416-d innerproduct" in out
    assert "vector blocks text 384-d weight 1 + behaviour 32-d weight 0.5" in out
    assert "/ (1 + popularity/1.8)^0.25" in out
