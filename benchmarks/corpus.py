"""Deterministic benchmark corpus: N luxury product documents and realistic storefront queries.

Every house and product here is invented. Document ``i`` depends only on ``(seed, i)`` (its own
``random.Random``), so the corpus is *prefix-stable*: the first 50,000 documents of a 200,000
corpus are exactly the 50,000-document corpus, and one embedding run serves every size.

Documents carry every field of ``index_templates/products.json``: sku, title, brand, category,
description, attributes, color, material, in_stock, price, margin, inventory_received_at and
popularity. Title + description are about 15-45 words.

Queries come in five kinds (see ``QUERY_KINDS``): colour+material+item, brand+item,
feature+item, paraphrases that share no word with the product nouns, and SKU lookups of
documents that exist at every benchmarked size (``sku_pool`` = the smallest size).

Usage::

    from benchmarks.corpus import generate_documents, generate_queries
    docs = generate_documents(50_000)
    queries = generate_queries(300, sku_pool=50_000)   # [{"text": ..., "kind": ...}, ...]
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import random
from collections.abc import Iterator
from typing import Any

__all__ = [
    "CORPUS_VERSION",
    "QUERY_KINDS",
    "corpus_key",
    "generate_documents",
    "generate_queries",
    "iter_documents",
    "make_document",
    "queries_key",
]

CORPUS_VERSION = "bench-corpus-v1"
DEFAULT_SEED = 20261122

DATE_MIN = dt.date(2025, 1, 1)
DATE_SPAN_DAYS = (dt.date(2026, 11, 15) - DATE_MIN).days

# Fictional houses; earlier names are drawn more often (a Zipf-like brand mix, as in real
# catalogues where a few houses dominate).
BRANDS = [
    "Maison Aurelle",
    "Casa Verancci",
    "Halvorsen & Lyle",
    "Atelier Morvane",
    "Orsaline",
    "Vellacourt",
    "Lisandre Paris",
    "Thornevale",
    "Calvessa",
    "Ondrelle",
    "Marquessi",
    "Belvane",
    "Solenne Atelier",
    "Rivaulx",
    "Bastienne",
    "Tessaro Milano",
    "Lindqvist Hale",
    "Kessnor",
    "Ferrowyn",
    "Aldemar & Fils",
    "Quillon",
    "Casimira",
    "Maison Isaure",
    "Noctea",
    "Mareval",
    "Ravenscar",
    "Delacroix-Vey",
    "Fiorenza Salt",
    "Brannoch",
    "Ysolde",
    "Corvel",
    "Amberlain",
    "Maison Escaut",
    "Pellestrina",
    "Hartwell Row",
    "Ottavine",
    "Selvagem",
    "Ardith Moor",
    "Ilaria Conti",
    "Valmont-Roche",
    "Sabline",
    "Gresham Vale",
    "Kirova",
    "Lumiane",
    "Estrelle",
    "Fenwick & Dace",
    "Marlowe Gray",
    "Oriande",
    "Castellane Noir",
    "Whitcombe",
    "Velours Studio",
    "Annecy Lane",
    "Brisegarde",
    "Tamsin Royle",
    "Hollis Quay",
    "Montclair Atelier",
    "Severine",
    "Aubrac",
    "Lyonnel",
    "Perdita",
]
_BRAND_WEIGHTS = [1.0 / (r + 3) for r in range(len(BRANDS))]

ORIGINS = [
    "Florence",
    "Milan",
    "Paris",
    "Naples",
    "Northampton",
    "Lyon",
    "the Jura mountains",
    "Geneva",
    "Kyoto",
    "Porto",
    "Biella",
    "the Scottish Borders",
    "Como",
    "Valencia",
    "Antwerp",
]

COLOURS = [
    "black",
    "ivory",
    "camel",
    "cognac",
    "burgundy",
    "navy",
    "taupe",
    "blush pink",
    "chocolate",
    "cream",
    "red",
    "forest green",
    "charcoal",
    "stone",
    "khaki",
    "olive",
    "oatmeal",
    "grey",
    "emerald",
    "champagne",
    "cobalt blue",
    "sage",
    "lilac",
    "white",
    "tan",
    "silver",
    "gold",
    "midnight blue",
    "rust",
    "sand",
]

# category -> code, price range, base margin, materials, features (adjectives usable in
# queries), attribute pools, usage sentences, and item types (name, prose nouns).
CATEGORIES: dict[str, dict[str, Any]] = {
    "handbags": {
        "code": "BAG",
        "weight": 14,
        "price": (650, 9500),
        "margin": 0.62,
        "materials": [
            "calfskin",
            "lambskin",
            "suede",
            "grained leather",
            "canvas",
            "raffia",
            "patent leather",
            "nylon",
            "crocodile-embossed leather",
            "velvet",
        ],
        "features": [
            "water-resistant",
            "lightweight",
            "quilted",
            "hand-stitched",
            "structured",
            "foldable",
            "reversible",
            "padded",
        ],
        "attrs": {
            "closure": ["magnetic snap", "zip", "turn-lock", "push-lock", "drawstring"],
            "hardware": ["gold-tone", "palladium-tone", "gunmetal", "antique brass"],
            "strap": ["adjustable", "detachable chain", "top handles", "webbing"],
            "size": ["mini", "small", "medium", "large"],
        },
        "uses": [
            "There is room for a laptop, a notebook and a change of shoes.",
            "It moves from the morning commute to dinner without a second thought.",
            "Just big enough for a phone, keys and a lipstick on a night out.",
            "Worn across the body, it keeps both hands free on busy city days.",
            "An interior zip pocket keeps passports and cards in order when travelling.",
        ],
        "items": [
            ("tote", "tote, carryall, shopper"),
            ("shoulder bag", "shoulder bag, underarm bag"),
            ("crossbody bag", "crossbody, messenger"),
            ("top-handle bag", "top-handle, handbag"),
            ("clutch", "clutch, pochette"),
            ("bucket bag", "bucket bag, drawstring bag"),
            ("backpack", "backpack, rucksack"),
            ("weekender", "weekender, holdall, duffle"),
            ("belt bag", "belt bag, bum bag"),
            ("hobo bag", "hobo, slouchy bag"),
        ],
    },
    "shoes": {
        "code": "SHO",
        "weight": 13,
        "price": (420, 2400),
        "margin": 0.58,
        "materials": [
            "calfskin",
            "suede",
            "patent leather",
            "nappa leather",
            "canvas",
            "satin",
            "shearling",
            "rubber",
            "raffia",
            "lambskin",
        ],
        "features": [
            "waterproof",
            "cushioned",
            "non-slip",
            "handmade",
            "breathable",
            "lightweight",
            "Goodyear-welted",
            "lined",
        ],
        "attrs": {
            "sole": ["leather", "rubber", "lug rubber", "stacked leather", "crepe"],
            "toe": ["pointed", "almond", "round", "square"],
            "heel": ["flat", "15 mm", "35 mm", "60 mm", "85 mm", "105 mm"],
            "fit": ["true to size", "runs small", "runs large", "wide fit"],
        },
        "uses": [
            "A cushioned footbed makes them easy to wear from morning until late.",
            "The ridged sole grips on wet pavements and cobbled streets.",
            "Slip them on with cropped trousers for the office or bare ankles at the weekend.",
            "A slender heel lengthens the leg for cocktails and ceremonies.",
            "Made for long days on your feet, from airport lounges to gallery floors.",
        ],
        "items": [
            ("sneakers", "sneakers, trainers"),
            ("loafers", "loafers, slip-ons"),
            ("ankle boots", "ankle boots, booties"),
            ("knee-high boots", "tall boots, riding boots"),
            ("pumps", "pumps, courts, heels"),
            ("ballet flats", "ballerinas, flats"),
            ("sandals", "sandals, strappy sandals"),
            ("mules", "mules, slides"),
            ("Chelsea boots", "Chelsea boots, pull-on boots"),
            ("espadrilles", "espadrilles, rope-soled flats"),
            ("derby shoes", "derbies, lace-ups"),
            ("hiking boots", "hiking boots, trail boots"),
        ],
    },
    "outerwear": {
        "code": "OUT",
        "weight": 10,
        "price": (1100, 8200),
        "margin": 0.6,
        "materials": [
            "cashmere",
            "double-faced wool",
            "cotton gabardine",
            "technical nylon",
            "lambskin",
            "shearling",
            "waxed cotton",
            "camel hair",
            "tweed",
            "alpaca",
        ],
        "features": [
            "waterproof",
            "insulated",
            "packable",
            "windproof",
            "down-filled",
            "reversible",
            "shower-proof",
            "hooded",
        ],
        "attrs": {
            "closure": ["buttons", "zip", "snap buttons", "wrap with belt"],
            "length": ["cropped", "hip-length", "knee-length", "mid-calf"],
            "lining": ["silk", "cupro", "quilted", "unlined"],
            "fit": ["true to size", "relaxed", "oversized", "slim"],
        },
        "uses": [
            "Storm flaps and taped seams keep out spring rain and autumn showers.",
            "Responsibly sourced down keeps you warm on freezing mornings.",
            "It sits neatly over a suit as easily as over a chunky knit.",
            "A deep hood and a wind-resistant shell face down bitter weather.",
            "Expect it to be worn for many winters to come.",
        ],
        "items": [
            ("trench coat", "trench, mac"),
            ("overcoat", "overcoat, topcoat"),
            ("puffer jacket", "puffer, quilted down jacket"),
            ("biker jacket", "biker, moto jacket"),
            ("parka", "parka, field coat"),
            ("peacoat", "pea coat, reefer"),
            ("blazer", "blazer, tailored jacket"),
            ("cape", "cape, wrap coat"),
            ("gilet", "gilet, body warmer"),
            ("raincoat", "raincoat, rain jacket"),
        ],
    },
    "knitwear": {
        "code": "KNT",
        "weight": 9,
        "price": (380, 3200),
        "margin": 0.66,
        "materials": [
            "cashmere",
            "merino wool",
            "lambswool",
            "mohair",
            "cotton",
            "silk-cashmere",
            "alpaca",
            "linen",
        ],
        "features": [
            "ribbed",
            "oversized",
            "chunky",
            "cable-knit",
            "fine-gauge",
            "cropped",
            "seamless",
            "machine-washable",
        ],
        "attrs": {
            "gauge": ["3 gauge", "7 gauge", "12 gauge", "14 gauge"],
            "fit": ["true to size", "relaxed", "slim", "oversized"],
            "care": ["hand wash cold", "dry clean"],
            "weight": ["lightweight", "midweight", "heavyweight"],
        },
        "uses": [
            "An easy layer over a shirt for the office or alone on a chilly weekend.",
            "It softens with every wear and keeps its shape wash after wash.",
            "Loungewear made luxurious, for long-haul flights and lazy Sundays.",
            "It sits close to the neck to keep out the cold under a tailored coat.",
        ],
        "items": [
            ("crewneck sweater", "crewneck, jumper, pullover"),
            ("turtleneck", "rollneck, polo neck"),
            ("cardigan", "cardigan, button-through knit"),
            ("V-neck sweater", "V-neck, sweater"),
            ("sweater vest", "sweater vest, knitted tank"),
            ("hoodie", "knitted hoodie, zip-up hoodie"),
            ("knit polo", "knitted polo, polo shirt"),
        ],
    },
    "dresses": {
        "code": "DRS",
        "weight": 9,
        "price": (780, 8800),
        "margin": 0.66,
        "materials": [
            "silk satin",
            "silk crepe",
            "jersey",
            "cotton poplin",
            "linen",
            "tulle",
            "velvet",
            "chiffon",
            "tweed",
            "sequinned tulle",
        ],
        "features": [
            "pleated",
            "draped",
            "embroidered",
            "backless",
            "sleeveless",
            "belted",
            "bias-cut",
            "ruched",
        ],
        "attrs": {
            "length": ["mini", "knee-length", "midi", "ankle-length", "floor-length"],
            "neckline": ["V-neck", "square", "crew", "halterneck", "cowl", "sweetheart"],
            "fit": ["true to size", "relaxed", "fitted", "runs small"],
            "care": ["dry clean only", "hand wash cold"],
        },
        "uses": [
            "It moves with you, from a gallery opening to a late supper.",
            "Floor-sweeping and sculpted, it is made for formal evenings and galas.",
            "Light and airy, it is a natural for holidays by the sea.",
            "A self-tie waist flatters every shape, from desk to dinner.",
            "It skims the body and layers easily under a blazer.",
        ],
        "items": [
            ("slip dress", "slip dress, bias-cut slip"),
            ("wrap dress", "wrap dress, tie-waist dress"),
            ("shirt dress", "shirt dress, shirtwaister"),
            ("evening gown", "gown, column gown"),
            ("cocktail dress", "cocktail dress, party dress"),
            ("maxi dress", "maxi dress, sundress"),
            ("shift dress", "shift dress, column dress"),
            ("midi skirt", "midi skirt, pleated skirt"),
        ],
    },
    "jewellery": {
        "code": "JWL",
        "weight": 9,
        "price": (350, 28000),
        "margin": 0.55,
        "color_of": {
            "18k yellow gold": "gold",
            "18k white gold": "white gold",
            "18k rose gold": "rose gold",
            "sterling silver": "silver",
            "platinum": "platinum",
            "vermeil": "gold",
        },
        "materials": [
            "18k yellow gold",
            "18k white gold",
            "18k rose gold",
            "sterling silver",
            "platinum",
            "vermeil",
        ],
        "features": [
            "diamond-set",
            "hypoallergenic",
            "adjustable",
            "hand-engraved",
            "stackable",
            "pearl",
            "enamelled",
            "emerald-set",
        ],
        "attrs": {
            "stone": ["diamond", "sapphire", "emerald", "freshwater pearl", "onyx", "none"],
            "finish": ["polished", "brushed", "hammered"],
            "clasp": ["lobster", "box clasp", "push-back", "hinged"],
        },
        "uses": [
            "It is made to be worn every day and handed down.",
            "Delicate enough to stack, striking enough to wear alone.",
            "Each stone is hand-set by a master jeweller.",
            "Presented in a lacquered box, it makes a memorable gift.",
        ],
        "items": [
            ("necklace", "necklace, chain"),
            ("pendant", "pendant, charm necklace"),
            ("earrings", "earrings, studs, hoops"),
            ("bracelet", "bracelet, bangle, cuff"),
            ("ring", "ring, band"),
            ("cufflinks", "cufflinks"),
            ("brooch", "brooch, pin"),
        ],
    },
    "watches": {
        "code": "WAT",
        "weight": 6,
        "price": (2400, 38000),
        "margin": 0.34,
        "colors": [
            "black",
            "silver",
            "blue",
            "green",
            "white",
            "salmon",
            "grey",
            "champagne",
            "gold",
            "brown",
        ],
        "materials": [
            "stainless steel",
            "titanium",
            "18k rose gold",
            "ceramic",
            "bronze",
            "platinum",
        ],
        "features": [
            "automatic",
            "luminous",
            "ultra-thin",
            "skeleton",
            "solar-powered",
            "anti-magnetic",
            "hand-wound",
        ],
        "attrs": {
            "movement": ["automatic", "manual-wind", "quartz"],
            "case": ["36 mm", "38 mm", "40 mm", "42 mm"],
            "water resistance": ["30 m", "50 m", "100 m", "300 m"],
            "strap": ["steel bracelet", "alligator strap", "rubber strap", "fabric strap"],
        },
        "uses": [
            "Conceived as an heirloom to be handed down.",
            "A unidirectional bezel and luminous hands make it a trusted companion"
            " beneath the waves.",
            "Slim enough to slide under a shirt cuff at black-tie dinners.",
            "A second time zone keeps frequent flyers on home time.",
            "Its pushers time everything from laps to layovers.",
        ],
        "items": [
            ("chronograph", "chronograph, stopwatch"),
            ("dive watch", "diver, dive watch"),
            ("dress watch", "dress watch, slim timepiece"),
            ("GMT watch", "travel watch, dual-time watch"),
            ("pilot watch", "aviation watch, pilot's watch"),
            ("field watch", "field watch, sports watch"),
        ],
    },
    "accessories": {
        "code": "ACC",
        "weight": 11,
        "price": (150, 1900),
        "margin": 0.7,
        "materials": [
            "silk twill",
            "cashmere",
            "calfskin",
            "acetate",
            "wool",
            "lambskin",
            "cotton",
            "titanium",
        ],
        "features": [
            "polarised",
            "reversible",
            "hand-rolled",
            "RFID-blocking",
            "touchscreen-compatible",
            "monogrammed",
            "oversized",
            "lightweight",
        ],
        "attrs": {
            "size": ["one size", "small", "medium", "large"],
            "finish": ["printed", "jacquard", "embossed", "plain"],
            "care": ["dry clean", "wipe clean", "hand wash"],
        },
        "uses": [
            "It finishes an outfit with a quiet flourish.",
            "Small enough to slip into a pocket, smart enough to give as a gift.",
            "Made to travel, from ski slopes to summer terraces.",
            "Finished by hand, it arrives in a signature gift box.",
        ],
        "items": [
            (
                "silk scarf",
                "scarf, carre, square",
                ["silk twill", "cashmere", "wool", "silk chiffon"],
                ["hand-rolled", "reversible", "printed", "oversized"],
            ),
            (
                "leather belt",
                "belt",
                ["calfskin", "suede", "grained leather", "alligator-embossed leather"],
                ["reversible", "monogrammed", "adjustable", "slim"],
            ),
            (
                "sunglasses",
                "sunglasses, shades",
                ["acetate", "titanium", "gold-tone metal"],
                ["polarised", "oversized", "lightweight", "cat-eye", "aviator-style"],
            ),
            (
                "wallet",
                "wallet, billfold",
                ["calfskin", "grained leather", "lambskin", "canvas"],
                ["RFID-blocking", "monogrammed", "slim", "zip-around"],
            ),
            (
                "card holder",
                "card holder, card case",
                ["calfskin", "grained leather", "lambskin"],
                ["RFID-blocking", "monogrammed", "slim"],
            ),
            (
                "gloves",
                "gloves, mittens",
                ["lambskin", "cashmere", "suede", "wool"],
                ["touchscreen-compatible", "cashmere-lined", "fleece-lined"],
            ),
            (
                "baseball cap",
                "cap, hat",
                ["cotton", "wool", "cashmere", "linen"],
                ["adjustable", "embroidered", "lightweight"],
            ),
            (
                "fedora",
                "fedora, felt hat",
                ["wool felt", "rabbit felt", "straw"],
                ["packable", "wide-brim", "water-repellent"],
            ),
            (
                "tie",
                "tie, necktie",
                ["silk", "silk twill", "wool", "cashmere"],
                ["hand-rolled", "seven-fold", "printed", "knitted"],
            ),
            (
                "umbrella",
                "umbrella, brolly",
                ["nylon", "canvas", "polyester"],
                ["windproof", "compact", "automatic", "UV-blocking"],
            ),
        ],
    },
    "fragrance": {
        "code": "FRG",
        "weight": 5,
        "price": (95, 650),
        "margin": 0.74,
        "colors": ["clear", "amber", "smoked grey", "rose", "black", "gold", "green", "white"],
        "materials": ["glass", "crystal", "lacquered glass", "porcelain"],
        "features": [
            "long-lasting",
            "refillable",
            "unisex",
            "travel-size",
            "alcohol-free",
            "vegan",
        ],
        "attrs": {
            "notes": [
                "bergamot and cedar",
                "rose and oud",
                "vetiver and amber",
                "fig and sandalwood",
                "iris and musk",
                "neroli and vanilla",
            ],
            "volume": ["30 ml", "50 ml", "100 ml", "200 ml"],
            "family": ["woody", "floral", "citrus", "amber", "leather"],
        },
        "uses": [
            "It opens bright and settles into a warm, lingering trail.",
            "A signature scent for evenings out and long weekends away.",
            "The refill slips into the original flacon to cut waste.",
            "Composed by a master perfumer in Grasse.",
        ],
        "items": [
            ("eau de parfum", "eau de parfum, perfume, scent"),
            ("eau de toilette", "eau de toilette, cologne"),
            ("scented candle", "candle, home fragrance"),
            ("body lotion", "lotion, body cream"),
        ],
    },
    "tailoring": {
        "code": "TLR",
        "weight": 8,
        "price": (240, 5600),
        "margin": 0.6,
        "materials": [
            "wool",
            "cotton poplin",
            "linen",
            "silk",
            "flannel",
            "seersucker",
            "cotton oxford",
            "mohair blend",
        ],
        "features": [
            "slim-fit",
            "wrinkle-resistant",
            "stretch",
            "unlined",
            "double-breasted",
            "made-to-measure",
            "pleated",
            "relaxed-fit",
        ],
        "attrs": {
            "fit": ["slim", "regular", "relaxed", "tailored"],
            "collar": ["spread", "button-down", "cutaway", "band"],
            "care": ["dry clean", "machine wash cold", "hand wash"],
        },
        "uses": [
            "Cut to sit cleanly through long days of meetings.",
            "It packs flat and arrives uncreased for a weekend wedding.",
            "A half-canvas construction lets it mould to the wearer over time.",
            "Breathable enough for summer heatwaves in the city.",
        ],
        "items": [
            ("suit", "suit, two-piece"),
            ("dress shirt", "shirt, button-down"),
            ("trousers", "trousers, pants, slacks"),
            ("chinos", "chinos"),
            ("waistcoat", "waistcoat, vest"),
            ("tuxedo", "tuxedo, dinner suit"),
        ],
    },
}

_CAT_NAMES = list(CATEGORIES)
_CAT_WEIGHTS = [CATEGORIES[c]["weight"] for c in _CAT_NAMES]

TITLE_PATTERNS = [
    "{brand} {material} {item}",
    "{brand} {feature} {material} {item}",
    "{brand} {color} {material} {item}",
    "{feature} {item} in {color} {material}",
    "{brand} {item} in {color}",
    "{color} {feature} {item}",
    "{brand} {line} {item}",
    "{line} {material} {item} by {brand}",
]

LINES = [
    "Riviera",
    "Heritage",
    "Nocturne",
    "Atlas",
    "Meridian",
    "Solstice",
    "Cirque",
    "Alba",
    "Vendome",
    "Lago",
    "Serein",
    "Orbit",
    "Marais",
    "Tempo",
    "Linea",
    "Corsica",
    "Arpege",
    "Nord",
]

OPENINGS = [
    "{Brand} cuts this {noun} from {material} in a {color} shade that pairs with everything.",
    "A {feature} {noun} in {color} {material}, finished by hand in {origin}.",
    "Crafted in {origin} from {material}, this {noun} is {feature} and built to last.",
    "This {color} {noun} from {brand} is made of {material} and finished with care.",
    "{Brand} reworks a house classic as a {feature} {noun} in {material}.",
    "Made in {origin}, the {line} {noun} comes in {color} {material}.",
    "The {line} {noun} pairs {color} {material} with a {feature} construction.",
]

CLOSINGS = [
    "Comes with a dust bag and a certificate of authenticity.",
    "Produced in limited numbers each season.",
    "Free repairs are offered for the first two years.",
    "Each piece is inspected by hand before it leaves the atelier.",
    "A quiet, considered design that will not date.",
    "",
    "",
]

# Hand-written queries that describe a need without naming the product type (and without the
# catalogue's item nouns); the vector leg is the one that can answer them.
PARAPHRASES = [
    "something to keep me dry in a downpour",
    "warm layer for a freezing winter commute",
    "keeps time underwater while scuba diving",
    "elegant piece for a black tie evening",
    "gift for my wife on our anniversary",
    "comfortable for walking all day around a city",
    "carry my laptop to the office in style",
    "what to wear to a summer wedding by the sea",
    "shield my eyes from the sun on holiday",
    "keep my hands warm when it snows",
    "smell nice for a date night",
    "cosy outfit for a long flight",
    "accessory to brighten a plain outfit",
    "something sparkly for the fingers",
    "classic timepiece for a business executive",
    "tiny purse for a night out dancing",
    "keep cards and cash organised",
    "footwear for mountain trails",
    "smart look for job interviews",
    "tracks two time zones for frequent travellers",
    "soft cosy top for chilly evenings",
    "overnight luggage for a short city break",
    "protection from wind on a sailing trip",
    "present for a man who loves watches",
    "sophisticated perfume with woody notes",
    "lightweight cover up for beach holidays",
    "fancy footwear for a cocktail party",
    "stays put during a rainy bike ride",
    "hands free option for market shopping",
    "goes with jeans on weekends",
    "thing to hold up my trousers",
    "neck warmer for autumn walks",
    "ear decorations for a gala",
    "formal menswear for a wedding reception",
    "something roomy for carrying groceries and gym clothes",
    "make the living room smell lovely",
    "cool summer outfit for hot humid days",
    "durable everyday piece that ages well",
    "keep the rain off my head in town",
    "relaxed sunday lounging at home",
    "stylish cover for cold ears on the slopes",
    "christening present that lasts a lifetime",
    "pilot inspired instrument for the wrist",
    "clothing for a gallery opening",
    "grab and go option for errands",
    "slip on without laces",
    "something to wear to the opera",
    "protect my feet from puddles",
    "sturdy luggage for a weekend in the countryside",
    "heirloom to pass down to my daughter",
    "present for a new graduate starting work",
    "glamorous outfit for new year's eve",
    "keep warm at a football match",
    "statement piece to wear on the lapel",
    "something chic for brunch with friends",
    "elegant neckwear for the office",
    "dressy flats for a long day of sightseeing",
    "understated luxury for a minimalist wardrobe",
    "protect my phone and keys at a festival",
    "wrist companion for marathon training",
]

QUERY_KINDS = ("color_material_item", "brand_item", "feature_item", "paraphrase", "sku")
_KIND_SHARE = {
    "color_material_item": 0.25,
    "brand_item": 0.2,
    "feature_item": 0.2,
    "paraphrase": 0.18,
    "sku": 0.17,
}


def _sku(category: str, i: int) -> str:
    return f"LX-{CATEGORIES[category]['code']}-{i:07d}"


def _cap(s: str) -> str:
    return s[:1].upper() + s[1:]


def _article(s: str) -> str:
    """'A oversized' -> 'An oversized' (and 'an' before consonants back to 'a')."""
    words = s.split(" ")
    for j in range(len(words) - 1):
        w, nxt = words[j], words[j + 1]
        if w.lower() in ("a", "an") and nxt:
            vowel = nxt[0].lower() in "aeiou" and not nxt.lower().startswith(("uni", "uv"))
            want = "an" if vowel else "a"
            words[j] = want.capitalize() if w[0].isupper() else want
    return " ".join(words)


def _item_parts(
    cat: dict[str, Any], entry: tuple[Any, ...]
) -> tuple[str, str, list[str], list[str]]:
    """(item, nouns, materials, features) of one item type, with per-item overrides."""
    item, nouns = entry[0], entry[1]
    materials = entry[2] if len(entry) > 2 and entry[2] else cat["materials"]
    features = entry[3] if len(entry) > 3 and entry[3] else cat["features"]
    return item, nouns, materials, features


def make_document(i: int, seed: int = DEFAULT_SEED) -> dict[str, Any]:
    """Document number ``i`` (depends only on ``seed`` and ``i``)."""
    rng = random.Random(f"{CORPUS_VERSION}:{seed}:{i}")
    category = rng.choices(_CAT_NAMES, weights=_CAT_WEIGHTS)[0]
    cat = CATEGORIES[category]
    item, nouns, materials, features = _item_parts(cat, rng.choice(cat["items"]))
    noun = rng.choice([item, item, *[n.strip() for n in nouns.split(",")]])
    brand = rng.choices(BRANDS, weights=_BRAND_WEIGHTS)[0]
    material = rng.choice(materials)
    color = rng.choice(cat.get("colors", COLOURS))
    if "color_of" in cat:  # jewellery: the colour is the metal's
        color = cat["color_of"][material]
    feature = rng.choice(features)
    line = rng.choice(LINES)
    origin = rng.choice(ORIGINS)
    slots = {
        "brand": brand,
        "Brand": brand,
        "item": item,
        "noun": noun,
        "material": material,
        "color": color,
        "feature": feature,
        "line": line,
        "origin": origin,
    }
    title = _cap(rng.choice(TITLE_PATTERNS).format(**slots))
    sentences = [_article(rng.choice(OPENINGS).format(**slots))]
    sentences.append(rng.choice(cat["uses"]))
    closing = rng.choice(CLOSINGS)
    if closing and rng.random() < 0.6:
        sentences.append(closing)
    description = " ".join(_cap(s) for s in sentences)
    keys = list(cat["attrs"])
    rng.shuffle(keys)
    attributes = "; ".join(f"{k}: {rng.choice(cat['attrs'][k])}" for k in keys[: rng.randint(2, 4)])
    lo, hi = cat["price"]
    price = round(math.exp(rng.uniform(math.log(lo), math.log(hi))), -1 if hi < 5000 else -2)
    margin = round(min(0.75, max(0.05, rng.gauss(cat["margin"], 0.08))), 3)
    received = DATE_MIN + dt.timedelta(days=rng.randrange(DATE_SPAN_DAYS + 1))
    popularity = round(rng.lognormvariate(1.2, 1.1), 2)
    return {
        "sku": _sku(category, i),
        "title": title,
        "brand": brand,
        "category": category,
        "description": description,
        "attributes": attributes,
        "color": color,
        "material": material,
        "in_stock": rng.random() < 0.85,
        "price": float(price),
        "margin": float(margin),
        "inventory_received_at": received.isoformat(),
        "popularity": float(popularity),
    }


def iter_documents(n: int, seed: int = DEFAULT_SEED, start: int = 0) -> Iterator[dict[str, Any]]:
    """Documents ``start .. n-1``."""
    for i in range(start, n):
        yield make_document(i, seed)


def generate_documents(n: int, seed: int = DEFAULT_SEED) -> list[dict[str, Any]]:
    """The first ``n`` documents."""
    return list(iter_documents(n, seed))


def corpus_key(seed: int = DEFAULT_SEED, probe: int = 2000) -> str:
    """A short hash identifying the generator's output (first ``probe`` documents + version).

    Because the corpus is prefix-stable, the key does not depend on ``n``; cache files add ``n``.
    """
    h = hashlib.sha256(f"{CORPUS_VERSION}:{seed}".encode())
    for doc in iter_documents(probe, seed):
        h.update(json.dumps(doc, sort_keys=True).encode())
    return h.hexdigest()[:12]


def queries_key(queries: list[dict[str, str]]) -> str:
    """A short hash of the query texts (names the cached query vectors)."""
    return hashlib.sha256("\n".join(q["text"] for q in queries).encode()).hexdigest()[:12]


def generate_queries(
    n: int = 300, *, sku_pool: int = 50_000, seed: int = DEFAULT_SEED
) -> list[dict[str, str]]:
    """``n`` unique storefront queries ``{"text", "kind"}`` in a fixed shuffled order.

    SKU lookups name documents ``< sku_pool``, so they exist at every size ``>= sku_pool``.
    """
    rng = random.Random(f"{CORPUS_VERSION}:queries:{seed}:{sku_pool}")
    counts = {k: round(n * share) for k, share in _KIND_SHARE.items()}
    counts["color_material_item"] += n - sum(counts.values())
    counts["paraphrase"] = min(counts["paraphrase"], len(PARAPHRASES))
    counts["color_material_item"] += n - sum(counts.values())
    seen: set[str] = set()
    out: list[dict[str, str]] = []

    def add(text: str, kind: str) -> bool:
        key = text.lower()
        if key in seen:
            return False
        seen.add(key)
        out.append({"text": text, "kind": kind})
        return True

    def cat_item() -> tuple[dict[str, Any], str, list[str], list[str]]:
        cat = CATEGORIES[rng.choices(_CAT_NAMES, weights=_CAT_WEIGHTS)[0]]
        item, _nouns, materials, features = _item_parts(cat, rng.choice(cat["items"]))
        return cat, item, materials, features

    made = 0
    while made < counts["color_material_item"]:
        cat, item, materials, _ = cat_item()
        if "color_of" in cat or cat["code"] == "FRG":
            continue
        colour = rng.choice(cat.get("colors", COLOURS))
        made += add(f"{colour} {rng.choice(materials)} {item}", "color_material_item")
    made = 0
    while made < counts["brand_item"]:
        _, item, _, _ = cat_item()
        brand = rng.choices(BRANDS, weights=_BRAND_WEIGHTS)[0]
        made += add(
            f"{brand} {item}" if rng.random() < 0.8 else f"{brand.lower()} {item}", "brand_item"
        )
    made = 0
    while made < counts["feature_item"]:
        _, item, _, features = cat_item()
        made += add(f"{rng.choice(features)} {item}", "feature_item")
    for text in rng.sample(PARAPHRASES, counts["paraphrase"]):
        add(text, "paraphrase")
    made = 0
    while made < counts["sku"]:
        i = rng.randrange(sku_pool)
        sku = make_document(i, seed)["sku"]
        made += add(sku if rng.random() < 0.7 else sku.lower(), "sku")
    rng.shuffle(out)
    return out


if __name__ == "__main__":  # a quick look at the corpus
    import statistics
    import sys

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    docs = generate_documents(max(n, 1000))
    for d in docs[:n]:
        print(json.dumps(d, ensure_ascii=False))
    words = [len((d["title"] + " " + d["description"]).split()) for d in docs]
    print(
        f"title+description words: min {min(words)} median {statistics.median(words)} "
        f"max {max(words)}",
        file=sys.stderr,
    )
    for q in generate_queries(300)[:25]:
        print(q, file=sys.stderr)
