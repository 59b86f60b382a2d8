"""The embedded engine's analysis (hybrid_search/analysis.py) and the template's analyzer
declarations. The expectations below were recorded from ``POST /_analyze`` on the OpenSearch 3.6.0
node (built-in ``english`` and ``standard``); tests/cluster/test_cluster_analysis.py compares
against a live node term for term."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hybrid_search.analysis import BUILTIN_ANALYZERS
from hybrid_search.errors import TemplateError
from hybrid_search.templates import default_templates_dir, parse_template

TEMPLATE_PATH = default_templates_dir() / "products.json"

# (text, english analyzer's terms, standard analyzer's terms), from the 3.6.0 node
RECORDED = [
    ("women's", ["women"], ["women's"]),
    ("WOMEN'S BOOTS", ["women", "boot"], ["women's", "boots"]),
    ("children\u2019s shoes", ["children", "shoe"], ["children\u2019s", "shoes"]),
    ("O'Neill's", ["o'neil"], ["o'neill's"]),
    ("rock'n'roll", ["rock'n'rol"], ["rock'n'roll"]),
    ("don't", ["don't"], ["don't"]),
    ("d'ombré", ["d'ombré"], ["d'ombré"]),
    ("3.5mm", ["3.5mm"], ["3.5mm"]),
    ("1,000", ["1,000"], ["1,000"]),
    ("U.S.A.", ["u.s.a"], ["u.s.a"]),
    ("e.g.", ["e.g"], ["e.g"]),
    ("a:b", ["a:b"], ["a:b"]),
    ("x_y", ["x_y"], ["x_y"]),
    ("wi-fi", ["wi", "fi"], ["wi", "fi"]),
    ("18k", ["18k"], ["18k"]),
    ("foo@bar.com", ["foo", "bar.com"], ["foo", "bar.com"]),
    ("10:30", ["10", "30"], ["10", "30"]),
    ("T-shirt", ["t", "shirt"], ["t", "shirt"]),
    ("naïve café", ["naïv", "café"], ["naïve", "café"]),
    ("LX-BAG-0042", ["lx", "bag", "0042"], ["lx", "bag", "0042"]),
    ("12.50€", ["12.50"], ["12.50"]),
    ("ΟΔΟΣ", ["οδοσ"], ["οδοσ"]),
    ("İstanbul", ["istanbul"], ["istanbul"]),
    ("日本語テキスト", ["日", "本", "語", "テキスト"], ["日", "本", "語", "テキスト"]),
    ("x²", ["x"], ["x"]),
    ("the scarves and knives", ["scarv", "knive"], ["the", "scarves", "and", "knives"]),
    (
        "grey organic evening dresses",
        ["grei", "organ", "even", "dress"],
        ["grey", "organic", "evening", "dresses"],
    ),
]


@pytest.mark.parametrize(("text", "english", "standard"), RECORDED, ids=[r[0] for r in RECORDED])
def test_builtin_analyzers_give_the_nodes_terms(text, english, standard):
    assert BUILTIN_ANALYZERS["english"].analyze(text) == english
    assert BUILTIN_ANALYZERS["standard"].analyze(text) == standard


def test_the_shipped_chain_brings_irregular_plurals_to_their_singular():
    chain = parse_template(_body(), path=TEMPLATE_PATH, name="products").analyzers
    plurals = chain["english_plurals"]
    for singular, plural in [("scarf", "Scarves"), ("knife", "knives"), ("woman", "women's")]:
        assert plurals.analyze(plural) == plurals.analyze(singular) == [singular]
    # the rest is the english analyzer's
    assert plurals.analyze("grey organic evening dresses") == ["grei", "organ", "even", "dress"]
    assert plurals.analyze("leaves") == ["leav"] != plurals.analyze("leaf")


def _body():
    return json.loads(TEMPLATE_PATH.read_text())


def _analysis(body):
    return body["template"]["settings"]["analysis"]


@pytest.mark.parametrize(
    ("mutate", "fragment"),
    [
        (
            lambda b: _analysis(b)["analyzer"]["english_plurals"].update(tokenizer="whitespace"),
            '/analyzer/english_plurals/tokenizer: expected "standard"',
        ),
        (
            lambda b: _analysis(b)["analyzer"]["english_plurals"]["filter"].reverse(),
            "/analyzer/english_plurals/filter: expected the filters in the order",
        ),
        (
            lambda b: _analysis(b)["analyzer"]["english_plurals"]["filter"].append("asciifolding"),
            "/analyzer/english_plurals/filter/5: expected lowercase, porter_stem",
        ),
        (
            lambda b: _analysis(b)["filter"]["irregular_plurals"]["rules"].append("Mice => mouse"),
            '/filter/irregular_plurals/rules/15: expected "word, word => term"',
        ),
        (
            lambda b: _analysis(b)["filter"]["english_stemmer"].update(language="porter2"),
            "/analyzer/english_plurals/filter/4: expected lowercase, porter_stem",
        ),
        (
            lambda b: b["template"]["mappings"]["properties"]["title"].update(analyzer="french"),
            "/title/analyzer: expected one of ['english', 'english_plurals', 'standard']",
        ),
    ],
)
def test_an_analyzer_the_embedded_engine_cannot_apply_is_refused(mutate, fragment):
    body = _body()
    mutate(body)
    with pytest.raises(TemplateError) as caught:
        parse_template(body, path=TEMPLATE_PATH, name="products")
    assert fragment in str(caught.value)


@settings(max_examples=3000, deadline=None)
@given(st.text(alphabet="abZx901_'.:,;-/\" \t\u00e9", max_size=24))
def test_ascii_fast_path_tokenizes_as_the_general_rules(text):
    # ASCII text takes one regex; the general UAX #29 path must give the same tokens
    # (the alphabet mixes every joiner of both kinds; é sends a text down the general path)
    from hybrid_search.analysis import _unicode_tokens, standard_tokens

    assert standard_tokens(text) == _unicode_tokens(text)
    assert standard_tokens("x" * 600 + "'y") == _unicode_tokens("x" * 600 + "'y")
