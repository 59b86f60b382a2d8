"""Text analysis as OpenSearch does it, for the embedded engine: one chain per template analyzer.

OpenSearch's ``english`` analyzer is the ``standard`` tokenizer (Unicode word boundaries,
UAX #29), ``english_possessive_stemmer``, ``lowercase``, the ``_english_`` stop words and
Lucene's ``PorterStemFilter``. The embedded engine used tantivy's own chain, whose tokenizer
splits ``women's`` and ``3.5mm`` and whose stemmer is Snowball's Porter2: 522 of the demo
catalogue's 1,854 texts came out with other terms than on the 3.6.0 node ("grey" against
"grei", "has" against "ha"). Here the same chain is rebuilt step by step so both backends index
and query the same terms: Porter's stemmer from NLTK in its ``MARTIN_EXTENSIONS`` mode, which is
the C reference implementation Lucene ported (identical output on 21,719 words of the MiniLM
vocabulary, compared on the 3.6.0 and 2.19.1 nodes; Porter is frozen, so the versions agree,
which Porter2 does not: it changed between them).

A template may declare its own chain (``settings.analysis.analyzer``), made only of these steps,
plus a ``stemmer_override`` before the stemmer: irregular plurals that Porter leaves apart from
their singular (``scarves`` -> ``scarv``, ``scarf`` -> ``scarf``) are mapped to the singular's
term, which the stemmer then leaves alone on both backends (Lucene marks it a keyword).

The tokenizer follows UAX #29 as Lucene's ``StandardTokenizer`` does for alphabetic scripts:
letters, digits, marks and connector punctuation join; ``'`` ``.`` ``:`` ``·`` (and their
full-width forms) join letters, ``,`` ``;`` ``.`` ``'`` join digits; each Han and Hiragana
character is a token of its own; tokens longer than 255 characters are split. Not emulated:
emoji tokens (dropped here) and Southeast Asian dictionary segmentation (runs kept whole).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import regex

__all__ = [
    "ENGLISH_STOP_WORDS",
    "AnalyzerChain",
    "lowercase",
    "porter_stem",
    "standard_tokens",
]

#: Lucene's ``EnglishAnalyzer.ENGLISH_STOP_WORDS_SET``, OpenSearch's ``_english_``.
_STOP = (
    "a an and are as at be but by for if in into is it no not of on or such that the their then "
    "there these they this to was will with"
)
ENGLISH_STOP_WORDS = frozenset(_STOP.split())

_MAX_TOKEN = 255  # StandardTokenizer's max_token_length
_SINGLE = r"[\p{Han}\p{Hiragana}]"
_KATAKANA = r"[\p{Katakana}\u30fc]"
_BASE = rf"[[\p{{L}}\p{{Nl}}\p{{Nd}}\p{{Pc}}]--{_SINGLE}--{_KATAKANA}]"
_WORD = regex.compile(
    rf"({_SINGLE}[\p{{M}}\p{{Cf}}]*)|({_KATAKANA}[{_KATAKANA[1:-1]}\p{{M}}\p{{Cf}}]*)"
    rf"|({_BASE}[{_BASE}\p{{M}}\p{{Cf}}]*)",
    regex.V1,
)
_HAS_ALNUM = regex.compile(r"[\p{L}\p{Nl}\p{Nd}]")
_MARKS = regex.compile(r"[\p{M}\p{Cf}]+")
_QUOTES = "'\u2018\u2019\u2024\ufe52\uff07.\uff0e"  # Single_Quote and MidNumLet
_JOIN_LETTERS = frozenset(":\u00b7\u0387\u055f\u05f4\u2027\ufe13\ufe55\uff1a" + _QUOTES)
_JOIN_DIGITS = frozenset(
    ",;\u037e\u0589\u060c\u060d\u066c\u07f8\u2044\ufe10\ufe14\ufe50\ufe54\uff0c\uff1b" + _QUOTES
)
_APOSTROPHES = frozenset("'\u2019\uff07")


def lowercase(text: str) -> str:
    """Lucene's ``lowercase`` filter: each code point through Java's ``Character.toLowerCase``,
    one code point to one, with no context (Python's ``str.lower`` turns "İ" into two code
    points and a final "Σ" into "ς")."""
    if text.isascii():
        return text.lower()
    return "".join(c.lower()[0] for c in text)


def _last_base(text: str) -> str:
    """The last character that is not a mark or format character (UAX #29 rule WB4)."""
    for c in reversed(text):
        if unicodedata.category(c)[0] != "M" and unicodedata.category(c) != "Cf":
            return c
    return ""


def _kind(c: str) -> str:
    if not c:
        return ""
    cat = unicodedata.category(c)
    return "letter" if cat[0] == "L" or cat == "Nl" else "digit" if cat == "Nd" else ""


# The same rules for ASCII text in one pass (about 5x faster; product text is mostly ASCII):
# word characters join; ' . : join two letters, , ; ' . two digits (WB6/7, WB11/12).
_ASCII_WORD = re.compile(
    r"[A-Za-z0-9_]+(?:(?:(?<=[A-Za-z])['.:](?=[A-Za-z])|(?<=[0-9])[,;'.](?=[0-9]))[A-Za-z0-9_]+)*"
)
_ASCII_ALNUM = re.compile(r"[A-Za-z0-9]")


def standard_tokens(text: str) -> list[str]:
    """The tokens of Lucene's ``StandardTokenizer`` (see the module docstring for its limits)."""
    if text.isascii():
        return [
            token[i : i + _MAX_TOKEN]
            for token in _ASCII_WORD.findall(text)
            if _ASCII_ALNUM.search(token)
            for i in range(0, len(token), _MAX_TOKEN)
        ]
    return _unicode_tokens(text)


def _unicode_tokens(text: str) -> list[str]:
    tokens: list[str] = []
    pending = ""
    pending_end = -1
    for match in _WORD.finditer(text):
        single = match.group(1) or match.group(2)
        word = match.group(3)
        if single is not None:
            if pending:
                tokens.append(pending)
                pending = ""
            tokens.append(single)
            continue
        start = match.start()
        gap = text[pending_end:start] if pending else ""
        if gap and not _MARKS.sub("", gap[1:]):  # one joiner, then marks only (WB4)
            joiner = gap[0]
            left, right = _kind(_last_base(pending)), _kind(word[0])
            if (left == right == "letter" and joiner in _JOIN_LETTERS) or (
                left == right == "digit" and joiner in _JOIN_DIGITS
            ):
                pending += gap + word
                pending_end = match.end()
                continue
        if pending:
            tokens.append(pending)
        pending, pending_end = word, match.end()
    if pending:
        tokens.append(pending)
    out: list[str] = []
    for token in tokens:
        if not _HAS_ALNUM.search(token):  # connector punctuation alone ("_") is no word
            continue
        out.extend(token[i : i + _MAX_TOKEN] for i in range(0, len(token), _MAX_TOKEN))
    return out


@functools.cache
def _stemmer() -> Any:
    # NLTK's package import takes ~1 s: only when an embedded index first analyses text.
    from nltk.stem.porter import PorterStemmer

    return PorterStemmer(mode=PorterStemmer.MARTIN_EXTENSIONS)


@functools.lru_cache(maxsize=200_000)
def porter_stem(term: str) -> str:
    """Lucene's ``PorterStemFilter`` on one lowercased term."""
    stem: str = _stemmer().stem(term, to_lowercase=False)
    return stem


@dataclass(frozen=True)
class AnalyzerChain:
    """One analyzer: the standard tokenizer, then these steps in this order (the only ones
    both backends apply alike). ``overrides`` maps a lowercased token to its final term
    (``stemmer_override``, before the stemmer, which leaves the result alone)."""

    possessive: bool = False
    stop: bool = False
    overrides: Mapping[str, str] = field(default_factory=dict)
    porter: bool = False

    def analyze(self, text: str) -> list[str]:
        """The terms ``text`` gives, as OpenSearch's ``_analyze`` lists them."""
        terms: list[str] = []
        for token in standard_tokens(text):
            if (
                self.possessive
                and len(token) >= 2
                and token[-1] in "sS"
                and token[-2] in _APOSTROPHES
            ):
                token = token[:-2]
            if not token:
                continue
            term = lowercase(token)
            if self.stop and term in ENGLISH_STOP_WORDS:
                continue
            override = self.overrides.get(term)
            if override is not None:
                terms.append(override)
            elif self.porter:
                terms.append(porter_stem(term))
            else:
                terms.append(term)
        return terms

    def describe(self) -> dict[str, Any]:
        """What the index's terms depend on (for the embedded schema digest)."""
        return {
            "possessive": self.possessive,
            "stop": self.stop,
            "overrides": sorted(self.overrides.items()),
            "porter": self.porter,
        }


#: OpenSearch's built-in analyzers that the embedded engine reproduces.
BUILTIN_ANALYZERS = {
    "english": AnalyzerChain(possessive=True, stop=True, porter=True),
    "standard": AnalyzerChain(),
}
