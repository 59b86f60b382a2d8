"""The embedded lexical leg's typo tolerance: which terms count as typos, and how they expand."""

from __future__ import annotations

from typing import Any

import pytest


def _doc(sku: str, title: str, brand: str) -> dict[str, Any]:
    return {
        "sku": sku,
        "title": title,
        "brand": brand,
        "category": "handbags",
        "description": "Made by hand.",
        "price": 100.0,
    }


DOCS = [
    _doc("A-1", "black calfskin tote", "Vantier"),
    _doc("A-2", "red silk scarf", "Blach"),  # one edit from "black", but only as a brand
    _doc("A-3", "navy wool coat", "Orsolo"),
    _doc("QX-WAT-00001", "steel moon-phase watch", "Orsolo"),
    _doc("QX-OUT-00002", "waxed cotton parka", "Vantier"),  # "wax": one edit from "wat"
]


@pytest.fixture
def backend(make_searcher):
    return make_searcher(DOCS).backend


def _ids(backend, hits):
    found = backend.fetch([h.key for h in hits])
    return [found[h.key][0] for h in hits]


def test_a_term_one_field_knows_is_not_a_typo_in_the_others(backend):
    # "black" is a title term: the brand field must not expand it to "blach".
    exact = backend.lexical("black", k=10, filters=[])
    assert _ids(backend, exact) == ["A-1"]
    assert backend.lexical("black", k=10, filters=[], fuzzy=True) == exact


def test_a_term_no_field_knows_expands_in_every_field(backend):
    # "blakc": a transposition of "black" (title) two edits from "blach" (brand).
    assert backend.lexical("blakc", k=10, filters=[]) == []
    assert _ids(backend, backend.lexical("blakc", k=10, filters=[], fuzzy=True)) == ["A-1"]
    # "blah": one edit from "blach" (brand) only; expands there and finds A-2.
    assert _ids(backend, backend.lexical("blah", k=10, filters=[], fuzzy=True)) == ["A-2"]


def test_a_word_known_under_another_analyzer_is_no_typo(backend):
    # "wat" is a sku.text term (standard analyzer); the stemmed title field lacks it, but that
    # makes it no typo there: it must not expand to "wax" and pull in the parka.
    exact = backend.lexical("QX-WAT-00001", k=10, filters=[])
    assert _ids(backend, exact)[0] == "QX-WAT-00001"
    assert backend.lexical("QX-WAT-00001", k=10, filters=[], fuzzy=True) == exact
    assert "QX-OUT-00002" in _ids(backend, backend.lexical("wexed", k=10, filters=[], fuzzy=True))


def test_known_and_misspelt_terms_together(backend):
    hits = backend.lexical("navy woll", k=10, filters=[], fuzzy=True)
    assert _ids(backend, hits)[0] == "A-3"
    # "woll" matched "wool" fuzzily, so the typo query outscores the exact one.
    exact = backend.lexical("navy woll", k=10, filters=[])
    assert hits[0].score > exact[0].score
