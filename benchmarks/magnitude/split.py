"""Home Depot split for the magnitude experiment: product families, in-domain vs out-of-domain.

The dataset has titles only (no category), so a product's family is the department keyword that
appears last in its title (the head noun of "Delta Vero 1-Handle Shower Faucet Trim Kit" is the
last department word), from the table below; titles with none are "other". A query's family is the
most frequent family among its products judged relevant (grade >= 1).

Out-of-domain (OOD) families are never seen in training: their queries are only tested, and
training pairs whose product belongs to them are dropped. In-domain queries are split by query:
a test sample with at least 5 judgments, the rest is the training pool.
"""

from __future__ import annotations

import collections
import json
import random
import re
from dataclasses import dataclass
from pathlib import Path

FAMILIES = {
    "appliances": r"refrigerator|freezer|dishwasher|washer|dryer|microwave|range hood|\brange\b"
    r"|oven|cooktop|ice maker|air conditioner|dehumidifier|water heater",
    "lighting": r"light|lamp|bulb|\bled\b|chandelier|sconce|lantern|fixture|ceiling fan",
    "bath_plumbing": r"faucet|toilet|shower|sink|bath|vanity|tub|drain|valve|pipe|plumbing|pvc"
    r"|fitting|water filter",
    "paint": r"paint|stain|primer|sealer|coating|spray|caulk|adhesive|epoxy|brush|roller",
    "flooring_tile": r"tile|floor|carpet|laminate|vinyl|rug|hardwood|mat\b|grout|underlayment",
    "outdoor_garden": r"lawn|mower|garden|grass|plant|soil|mulch|hose|sprinkler|patio|grill|fence"
    r"|trimmer|blower|chain saw|chainsaw|planter|pot\b|outdoor|deck|gazebo|shed",
    "tools": r"drill|saw|wrench|screwdriver|hammer|tool|bit\b|blade|socket|plier|level|clamp"
    r"|sander|router|nailer|compressor|battery|ladder",
    "hardware": r"screw|bolt|nail|anchor|hinge|knob|lock|handle|bracket|hook|chain|rope|strap"
    r"|fastener",
    "electrical": r"outlet|switch|wire|cable|breaker|electrical|cord|plug|conduit|thermostat|timer"
    r"|dimmer",
    "doors_windows": r"door|window|blind|shade|curtain|shutter|screen|storm",
    "building": r"lumber|plywood|drywall|insulation|board|concrete|cement|roof|gutter|siding"
    r"|molding|moulding|trim|post|stud|joist|shingle",
    "storage_home": r"shelf|shelving|cabinet|storage|organizer|closet|bin\b|rack|mailbox"
    r"|countertop|kitchen|furniture|chair|table",
}
OOD_FAMILIES = ("appliances", "electrical", "paint")
_PATTERNS = {k: re.compile(v, re.IGNORECASE) for k, v in FAMILIES.items()}


def family(title: str) -> str:
    """The department whose keyword occurs last in the title, or "other"."""
    best, pos = "other", -1
    for name, pattern in _PATTERNS.items():
        for m in pattern.finditer(title):
            if m.start() > pos:
                best, pos = name, m.start()
    return best


@dataclass
class Split:
    """Everything the experiment reads, all from one seed."""

    corpus: dict[str, str]  # retrieval corpus: id -> title
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]
    train_pairs: list[tuple[str, str, str]]  # (query text, title, product id)
    test: dict[str, list[str]]  # "in_domain" / "out_of_domain" -> query ids
    query_family: dict[str, str]
    product_family: dict[str, str]
    popularity: dict[str, int]  # product id -> times judged relevant in the training pool


def load_split(
    data: Path,
    *,
    seed: int = 0,
    test_queries: int = 500,
    train_pairs: int = 3000,
    corpus_size: int = 8000,
    min_judgments: int = 5,
) -> Split:
    """Read the BEIR-layout files and build the split (deterministic for a seed)."""
    titles = {}
    with (data / "corpus.jsonl").open(encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            titles[row["_id"]] = row["title"]
    queries = {}
    with (data / "queries.jsonl").open(encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            queries[row["_id"]] = row["text"]
    qrels: dict[str, dict[str, int]] = collections.defaultdict(dict)
    with (data / "qrels.tsv").open(encoding="utf-8") as f:
        next(f)
        for line in f:
            qid, pid, grade = line.rstrip("\n").split("\t")
            qrels[qid][pid] = int(grade)
    pfam = {pid: family(t) for pid, t in titles.items()}
    qfam = {}
    for qid, judged in qrels.items():
        fams = collections.Counter(pfam[p] for p, g in sorted(judged.items()) if g >= 1)
        qfam[qid] = fams.most_common(1)[0][0] if fams else "other"
    rng = random.Random(seed)
    qids = sorted(q for q in qrels if any(g == 2 for g in qrels[q].values()))
    ood = [q for q in qids if qfam[q] in OOD_FAMILIES]
    ind = [q for q in qids if qfam[q] not in OOD_FAMILIES]
    eligible = lambda pool: [q for q in pool if len(qrels[q]) >= min_judgments]  # noqa: E731
    test_ood = sorted(rng.sample(eligible(ood), min(test_queries, len(eligible(ood)))))
    test_in = sorted(rng.sample(eligible(ind), min(test_queries, len(eligible(ind)))))
    held = set(test_in) | set(test_ood)
    pool = [q for q in ind if q not in held]
    rng.shuffle(pool)
    pairs, popularity = [], collections.Counter()
    for qid in pool:
        positives = sorted(
            p for p, g in qrels[qid].items() if g == 2 and pfam[p] not in OOD_FAMILIES
        )
        for p in positives:
            popularity[p] += 1
        if positives and len(pairs) < train_pairs:
            p = rng.choice(positives)
            pairs.append((queries[qid], titles[p], p))
    judged = sorted({p for q in held for p in qrels[q]})
    rest = sorted(set(titles) - set(judged))
    extra = rng.sample(rest, max(0, corpus_size - len(judged)))
    corpus = {p: titles[p] for p in sorted(set(judged) | set(extra))}
    return Split(
        corpus=corpus,
        queries={q: queries[q] for q in held},
        qrels={q: dict(qrels[q]) for q in held},
        train_pairs=pairs,
        test={"in_domain": test_in, "out_of_domain": test_ood},
        query_family=qfam,
        product_family=pfam,
        popularity=dict(popularity),
    )
