"""Data tables of the demo catalogue generator: houses, categories, item types, prose.

Kept apart from ``generate.py`` so the generator's logic stays short; every name and sentence
is invented for this project.
"""

from __future__ import annotations

ALL = "BAG SHO DRS OUT KNT JWL SUN SCF SLG FRG BLT"
#: Fictional houses and the category codes each one sells.
# fmt: off
BRANDS: dict[str, tuple[str, ...]] = {
    name: tuple(codes.split())
    for name, codes in {
        "Maison Aurelle": ALL + " WAT", "Casa Verancci": ALL, "Halvorsen & Lyle": ALL,
        "Atelier Morvane": ALL, "Orsaline": ALL, "Vellacourt": ALL + " WAT",
        "Lisandre Paris": ALL, "Thornevale": ALL, "Calvessa": ALL, "Ondrelle": ALL,
        "Marquessi": ALL, "Belvane": ALL, "Solenne Atelier": ALL, "Rivaulx": ALL,
        "Bastienne": ALL, "Tessaro Milano": ALL, "Lindqvist Hale": ALL,
        "Kessnor": "WAT", "Ferrowyn": "WAT", "Aldemar & Fils": "WAT JWL", "Quillon": "WAT JWL",
        "Casimira": "JWL WAT", "Maison Isaure": "JWL", "Noctéa": "FRG", "Maréval": "FRG",
    }.items()
}
# fmt: on

# The data table. A line starting with two spaces continues the previous line.
#   = category | sku code | weight | price range | base margin | prose family
#   colors / descriptors: comma lists; color_of: "material: colour; ..." (colour from material)
#   attrs: "key: option, option; key: ..."; uses: category sentences separated by ||
#   + item type | nouns used in prose | materials | usage sentence | attr overrides | descriptors
#   craft FAMILY / style FAMILY: sentence pools separated by ||
#   * hand-written showcase product for semantic-search demos: each answers a natural query
#     (raincoat, office bag, evening clutch, diving watch...) mostly in words the query lacks:
#     category | brand | title | colour | material | attributes | description
# Sentences may use {brand}, {Brand}, {color}, {material}, {noun}, {this}, {origin} and the
# product's attribute values ({water_resistance}, {a_strap}, {A_movement}, ...).
TABLE = """
= handbags | BAG | 13 | 950-9500 | 0.62 | leather
colors black, ivory, camel, cognac, burgundy, forest green, navy, taupe, blush pink, chocolate
  brown, cream, red
descriptors quilted, structured, signature, soft, embossed, topstitched, sculpted, heritage
attrs closure: magnetic snap, zip, turn-lock, push-lock, flap with press stud; hardware: gold-tone,
  palladium-tone, gunmetal, antique brass; strap: adjustable, detachable chain, detachable leather,
  double top handles; lining: suede, cotton canvas, lambskin, microfibre; size: mini, small,
  medium, large
uses {Brand} designed {this} {noun} to carry the essentials from a morning commute to dinner
  reservations. || Expect {this} {noun} to become the bag you reach for season after season.
+ tote | roomy carryall, everyday tote, spacious shopper | grained calfskin, coated canvas, smooth
  calfskin, raffia | There is room for a laptop, a folder and a change of shoes, so it doubles as a
  work bag.
+ shoulder bag | shoulder bag, underarm bag, day-to-night bag | lambskin, calfskin, suede | It sits
  neatly under the arm and moves from desk to dinner without a second thought.
+ crossbody bag | hands-free crossbody, compact messenger, camera bag | calfskin, grained calfskin,
  technical nylon | Worn across the body, it keeps hands free for city errands, markets and travel
  days.
+ top-handle bag | structured top-handle, ladylike handbag, boxy grab bag | box calfskin, patent
  leather, crocodile-embossed calfskin | A polished choice for board meetings, christenings and
  long lunches.
+ clutch | evening clutch, slim pochette, envelope clutch | satin, velvet, metallic lambskin | Just
  big enough for a phone, a key and a lipstick on a night out. | closure: push-lock; strap:
  detachable chain; size: mini
+ bucket bag | drawstring bucket, slouchy bucket bag | suede, calfskin, nappa leather | A cinched
  opening makes it quick to dip into on busy days. | closure: drawstring
+ weekender | overnight holdall, travel duffle, weekend bag | grained calfskin, coated canvas,
  technical nylon | Sized for a two-night escape, it slips neatly into the overhead locker. |
  closure: zip; strap: detachable leather; size: large
+ backpack | city backpack, everyday rucksack | technical nylon, grained calfskin | Padded straps
  spread the weight when commuting by bike or on foot. | closure: zip; strap: padded shoulder
  straps
= shoes | SHO | 12 | 450-2100 | 0.6 | leather
colors black, ivory, tan, cognac, burgundy, navy, nude, red, silver, white, taupe, olive
descriptors signature, classic, hand-lasted, polished, minimalist, heritage, embellished,
  topstitched
attrs sole: leather, rubber, stacked leather; lining: leather, calfskin, kidskin; fit: true to
  size, runs small - take a half size up, runs large; toe: pointed, almond, round, square
uses With {this} {noun}, {brand} pairs old-world craft with an easy, modern line. || {Brand}
  hand-lasts {this} {noun} in its own workshop in {origin}.
+ loafers | penny loafers, slip-ons, moccasin-style loafers | calfskin, suede, patent leather |
  Slip them on with cropped trousers for the office or with bare ankles at the weekend. | heel: 15
  mm
+ ankle boots | ankle boots, booties | calfskin, suede | A cushioned footbed makes them easy to
  wear from morning until late. | heel: 60 mm
+ stiletto pumps | stilettos, high-heeled courts, heels | patent leather, suede, satin, nappa
  leather | A slender heel and low-cut vamp lengthen the leg for cocktails and ceremonies. | heel:
  105 mm
+ sneakers | trainers, low-top sneakers, everyday trainers | calfskin, suede, canvas | Lightweight
  and cushioned, they are made for long days on your feet. | sole: rubber; heel: flat
+ espadrilles | espadrilles, rope-soled flats | canvas, suede, raffia | Breezy and packable, they
  are a natural for beach towns and summer terraces. | sole: jute and rubber; heel: flat
+ mules | backless mules, slides | nappa leather, satin, suede | Backless and easy, they slip on in
  seconds for lunch on the terrace. | heel: 50 mm
+ knee-high boots | tall boots, riding boots | calfskin, suede | The slim shaft sits neatly under
  midi skirts and over skinny jeans. | heel: 80 mm
+ ballet flats | ballerinas, flats | lambskin, patent leather, satin | Soft and foldable, they are
  kind to the feet on cobbled streets. | heel: flat
+ Chelsea boots | Chelsea boots, pull-on boots | calfskin, suede | Elastic gussets make them easy
  to pull on, and the ridged sole grips on wet pavements. | sole: lug rubber; heel: 35 mm
= dresses | DRS | 9 | 850-8500 | 0.66 | cloth
colors black, ivory, champagne, emerald, navy, midnight blue, blush pink, red, sage, lilac, cobalt
descriptors bias-cut, draped, pleated, belted, ruched, asymmetric, tailored, fluid, embroidered
attrs length: mini, knee-length, midi, ankle-length; neckline: V-neck, square, crew, halterneck,
  cowl, sweetheart; fit: true to size, relaxed, fitted, runs small; care: dry clean only, hand wash
  cold; lining: silk, cotton voile, unlined
uses {Brand} cuts {this} {noun} to move with you, from a gallery opening to a late supper. || There
  is a quiet confidence to {this} {noun}.
+ slip dress | slip dress, bias-cut slip | silk satin, silk crepe, satin | It skims the body and
  layers easily under a blazer or over a fine knit. | neckline: cowl
+ wrap dress | wrap dress, tie-waist dress | jersey, silk crepe, viscose crepe | A self-tie waist
  flatters every shape, from desk to dinner.
+ shirt dress | shirt dress, shirtwaister | cotton poplin, linen, silk twill | Crisp and easy, it
  is a natural choice for summer lunches and travel.
+ gown | evening gown, column gown, ball gown | silk faille, tulle, sequinned tulle, velvet, silk
  satin | Floor-sweeping and sculpted, it is made for formal evenings and opera premieres. |
  length: floor-length
+ cocktail dress | cocktail dress, party dress | velvet, crepe, sequinned tulle | A knee-skimming
  silhouette made for cocktail hours and celebrations. | length: knee-length
+ shift dress | shift dress, column dress | tweed, wool crepe, bouclé | Clean lines and a
  structured shape suit the office and daytime events.
+ maxi dress | maxi dress, sundress | cotton voile, silk chiffon, linen | Light and airy, it is
  made for holidays by the sea and warm evenings. | length: ankle-length
= outerwear | OUT | 9 | 1100-7500 | 0.6 | cloth
colors camel, black, navy, charcoal, stone, khaki, olive, ivory, chocolate brown, burgundy, grey
descriptors tailored, relaxed, oversized, longline, classic, signature
attrs closure: buttons, zip, snap buttons, wrap with belt; length: cropped, hip-length,
  knee-length, mid-calf; fit: true to size, relaxed, oversized, slim; lining: silk, cupro, quilted,
  unlined; pockets: flap pockets, welt pockets, patch pockets
uses {Brand} cut {this} {noun} to sit over tailoring as easily as over knitwear. || Expect {this}
  {noun} to be worn for many winters to come.
+ trench coat | belted trench, classic trench, mac | cotton gabardine, water-repellent cotton,
  technical twill | Storm flaps and a water-repellent finish keep out spring rain and autumn
  showers. | closure: buttons | double-breasted, belted, classic, longline, cropped
+ puffer jacket | down puffer, quilted down jacket | technical nylon, lacquered nylon | Responsibly
  sourced down keeps you warm on freezing mornings and snowy city breaks. | closure: zip | hooded,
  cropped, oversized, longline, lightweight
+ overcoat | tailored overcoat, topcoat | cashmere, double-faced wool, camel hair, wool-cashmere |
  A warm winter layer that sits neatly over a suit. |  | double-breasted, single-breasted,
  tailored, longline, wrap
+ biker jacket | leather biker, moto jacket | lambskin, calfskin, suede | Asymmetric zips and a
  fitted cut give it an edge over jeans or a slip dress. | closure: zip; length: cropped | classic,
  cropped, belted, studded, fitted
+ parka | hooded parka, field parka | technical cotton, waxed cotton, technical nylon | A deep hood
  and wind-resistant shell face down bitter weather. | closure: zip; lining: quilted | hooded,
  oversized, longline, utility
+ peacoat | pea coat, reefer jacket | melton wool, double-faced wool, cashmere | A nautical classic
  with a high collar to turn up against the wind. |  | double-breasted, tailored, cropped, classic
+ aviator jacket | shearling aviator, sheepskin jacket | shearling | Plush shearling makes it the
  warmest of companions on crisp winter days. |  | cropped, oversized, belted, classic
+ cape | cape, wrap coat | wool, cashmere, alpaca | It drapes over the shoulders and leaves the
  arms free to carry a bag. | closure: hook and eye; pockets: none | draped, hooded, signature
= knitwear | KNT | 8 | 450-3200 | 0.66 | cloth
colors oatmeal, camel, navy, charcoal, ivory, cream, black, grey, forest green, burgundy, dusty
  rose, sky blue
descriptors cable-knit, ribbed, chunky, fine-gauge, relaxed, cropped, oversized, brushed
attrs gauge: 3 gauge, 7 gauge, 12 gauge, 14 gauge; fit: true to size, relaxed, slim, oversized;
  care: hand wash cold, dry clean; weight: lightweight, midweight, heavyweight
uses {Brand} knits {this} {noun} to soften with every wear. || There is an understated warmth to
  {this} {noun}.
+ crewneck sweater | crewneck, jumper, pullover | cashmere, merino wool, lambswool | An easy layer
  over a shirt for the office or alone on a chilly weekend.
+ turtleneck | rollneck, polo neck | cashmere, merino wool, silk-cashmere | It sits close to the
  neck to keep out the cold under a tailored coat.
+ cardigan | cardigan, button-through knit | cashmere, mohair blend, lambswool | Wear it open over
  a slip dress or buttoned up as a top.
+ V-neck sweater | V-neck, sweater | cashmere, merino wool, cotton | Layer it over a crisp shirt
  for smart-casual days.
+ sweater vest | sweater vest, knitted tank | cashmere, merino wool, cotton | A light layer for
  in-between weather, over a shirt or a fine tee.
+ hoodie | knitted hoodie, zip-up hoodie | cashmere, cotton | Loungewear made luxurious, for
  long-haul flights and lazy Sundays.
= watches | WAT | 7 | 2400-18000 | 0.36 | watch
colors black, silver, blue, green, white, salmon, grey, champagne
descriptors Meridian, Regatta, Aurora, Solstice, Astra, Vantage, Equinox, Calibre 9
attrs movement: automatic, manual-wind, quartz; case: 36 mm, 38 mm, 40 mm, 42 mm; water resistance:
  30 m, 50 m, 100 m; strap: steel bracelet, alligator leather strap, calfskin strap, rubber strap,
  woven fabric strap; crystal: sapphire, domed sapphire
uses {Brand} conceived {this} {noun} as an heirloom to be handed down.
+ chronograph | chronograph, stopwatch timepiece | stainless steel, titanium, 18k rose gold,
  ceramic | Its chronograph pushers time everything from laps to layovers. | complication:
  chronograph
+ dive watch | diver, dive watch | stainless steel, titanium, bronze, ceramic | A unidirectional
  bezel and luminous hands make it a trusted companion beneath the waves. | water resistance: 300
  m; strap: rubber strap; movement: automatic
+ dress watch | dress watch, slim timepiece | 18k rose gold, 18k yellow gold, platinum, stainless
  steel | Slim enough to slide under a shirt cuff, it suits black-tie dinners and business meetings
  alike. | water resistance: 30 m; strap: alligator leather strap
+ GMT watch | travel watch, dual-time watch | stainless steel, titanium, 18k rose gold | A second
  time-zone hand keeps home time in view on long-haul trips. | complication: GMT
+ moon-phase watch | moon-phase watch, astronomical watch | 18k rose gold, platinum, stainless
  steel | A moon-phase display tracks the lunar cycle beneath the sapphire crystal. | complication:
  moon phase
+ automatic watch | everyday automatic, three-hand watch | stainless steel, titanium | A
  self-winding movement is powered by the motion of the wrist, so there is no battery to replace. |
  movement: automatic; complication: date
+ pilot watch | aviation watch, flieger | stainless steel, titanium, bronze | An oversized crown
  and bold numerals nod to the cockpit instruments of early aviation. | complication: date
= jewellery | JWL | 8 | 1200-9000 | 0.55 | jewel
colors gold
color_of 18k yellow gold: gold; 18k white gold: silver; 18k rose gold: rose gold; sterling silver:
  silver; platinum: platinum; gold vermeil: gold
descriptors signature, fine, sculptural, twisted, minimalist, polished, organic
attrs stone: diamond, pearl, emerald, sapphire, onyx, mother-of-pearl; finish: polished, hammered,
  satin-brushed; hallmark: hallmarked, certified recycled metal
uses {Brand} sets {this} {noun} by hand in its own workshop.
+ hoop earrings | hoops, hoop earrings | 18k yellow gold, 18k white gold, sterling silver, gold
  vermeil | Light enough to wear all day, from the office to late dinners. | closure: hinged
+ stud earrings | studs, stud earrings | 18k yellow gold, 18k white gold, platinum | Small and
  understated, they suit every day and every ear. | closure: butterfly back
+ pendant necklace | pendant, charm necklace | 18k yellow gold, 18k rose gold, sterling silver | A
  fine chain holds a single pendant that sits just below the collarbone. | length: 45 cm
+ tennis bracelet | line bracelet, tennis bracelet | 18k white gold, 18k yellow gold, platinum | A
  continuous line of stones catches the light with every movement. | stone: diamond
+ signet ring | signet ring, seal ring | 18k yellow gold, sterling silver, 18k rose gold | It can
  be engraved with initials, which makes it a meaningful gift. | stone: none
+ cuff bracelet | cuff, bangle | 18k yellow gold, sterling silver, gold vermeil | A bold,
  sculptural piece that stands alone on a bare wrist.
+ cocktail ring | statement ring, cocktail ring | 18k yellow gold, 18k white gold, platinum | A
  statement ring designed to be noticed across a crowded room.
= sunglasses | SUN | 5 | 260-950 | 0.64 | eyewear
colors black, tortoiseshell, havana, gold, silver, ivory, blush, green
descriptors signature, retro, oversized, slim, bold, lightweight
attrs lens: gradient grey, solid brown, polarised green, mirrored blue; protection: 100% UVA/UVB;
  fit: narrow, medium, wide; case: leather case, hard case
uses With {this} {noun}, {brand} brings a touch of glamour to the brightest days.
+ aviator sunglasses | aviators, pilot shades | titanium, gold-plated metal | Adjustable nose pads
  keep them comfortable on long drives and summer days.
+ cat-eye sunglasses | cat-eyes, cat-eye shades | acetate, bio-acetate | Upswept corners add retro
  glamour to every outfit.
+ square sunglasses | oversized frames, square shades | acetate, bio-acetate | A generous shape
  that shields the eyes and flatters most faces.
+ round sunglasses | round frames, round shades | acetate, titanium | Softly rounded lenses give
  them an artistic, bookish charm.
+ shield sunglasses | wraparound shield, visor shades | injected nylon, acetate | A wraparound lens
  offers high protection on the slopes and at sea.
= scarves | SCF | 5 | 180-1600 | 0.66 | cloth
colors ivory, navy, camel, red, emerald, blush pink, grey, black, sky blue, orange
descriptors printed, fringed, jacquard, hand-rolled, logo-woven, striped
attrs dimensions: 70 x 70 cm, 90 x 90 cm, 65 x 190 cm, 40 x 200 cm; edges: hand-rolled, fringed,
  raw; care: dry clean, hand wash cold
uses {Brand} finishes {this} {noun} by hand in its own workshop. || There is an effortless polish
  to {this} {noun}.
+ square scarf | carré, square scarf, headscarf | silk twill | Tie it at the neck, knot it as a
  headscarf or loop it around a bag handle. | dimensions: 90 x 90 cm | printed, hand-rolled,
  jacquard
+ stole | wrap, stole | cashmere, wool-silk, modal-cashmere | Wide enough to wrap around the
  shoulders on a chilly evening or a long-haul flight. | dimensions: 65 x 190 cm
+ winter scarf | winter scarf, muffler | cashmere, merino wool | Wound twice around the neck, it
  keeps out the winter wind. | dimensions: 40 x 200 cm | fringed, striped, ribbed, brushed
+ shawl | shawl, evening wrap | cashmere, silk chiffon, wool-silk | An elegant cover-up for evening
  dresses and summer weddings.
+ bandana | neckerchief, bandana | silk twill, cotton voile | A small, easy accent for an
  open-collar shirt. | dimensions: 70 x 70 cm | printed, paisley, hand-rolled
= small leather goods | SLG | 7 | 180-1250 | 0.66 | leather
colors black, cognac, burgundy, navy, taupe, forest green, blush pink, red, ivory, tan
descriptors signature, embossed, quilted, topstitched, slim, heritage
attrs closure: zip, snap, open, flap; hardware: gold-tone, palladium-tone; card slots: 2, 4, 6, 8,
  12; lining: calfskin, grosgrain, canvas
uses {Brand} cuts {this} {noun} from the same materials as its handbags. || Expect {this} {noun} to
  soften and gain character with daily use.
+ card holder | card case, slim card holder | calfskin, grained calfskin, lambskin | Slim enough
  for a front pocket, it holds everyday cards and a folded note. | closure: open
+ zip-around wallet | continental wallet, long wallet | grained calfskin, calfskin, coated canvas |
  A full zip keeps cards, coins and notes secure inside a larger handbag. | closure: zip; card
  slots: 12
+ key pouch | key holder, key case | calfskin, coated canvas | Keeps keys corralled so they never
  scratch the inside of your bag.
+ passport cover | passport holder, travel wallet | grained calfskin, calfskin | Holds a passport,
  boarding pass and cards for smooth travel days.
+ bifold wallet | billfold, bifold | calfskin, grained calfskin | A classic billfold with slots for
  cards and room for folded notes. | closure: open
+ phone pouch | phone holder, phone pouch | lambskin, grained calfskin | Wear it on its detachable
  strap when a handbag feels like too much.
= fragrance | FRG | 6 | 95-420 | 0.68 | scent
colors clear, amber, smoke grey, rose, emerald, midnight blue, gold
descriptors Nuit Blanche, Bois d'Ombre, Nocturne, Aube, Velours, Palazzo, Riviera, Minuit, Silence,
  Heure Dorée, Atelier 9, Soleil Bas
attrs size: 30 ml, 50 ml, 100 ml; top notes: bergamot, pink pepper, mandarin, cardamom, grapefruit,
  saffron; family: woody, floral, citrus, amber, aromatic, chypre
uses {Brand} houses {this} {noun} in heavy, hand-finished glass.
+ eau de parfum | perfume, eau de parfum, scent | sandalwood, iris, oud, rose, tuberose, vetiver,
  amber | Rich and long-lasting, it carries from a morning meeting well into the night. |
  concentration: eau de parfum
+ eau de toilette | cologne, eau de toilette, summer scent | bergamot, neroli, fig, vetiver,
  cedarwood | Fresh and light, it is easy to spritz on a hot day or after the gym. | concentration:
  eau de toilette
+ extrait de parfum | extrait, parfum | oud, sandalwood, tuberose, iris, amber | The most
  concentrated version, a few drops last from dusk until dawn. | concentration: extrait; size: 30
  ml
+ scented candle | candle, scented candle | fig, cedarwood, amber, rose | It fills a room with a
  warm, gentle glow and scent for around sixty hours. | burn time: 60 hours; size: 220 g
= belts | BLT | 5 | 280-1350 | 0.66 | leather
colors black, tan, cognac, chocolate brown, burgundy, navy, white, ivory
descriptors signature, slim, classic, heritage, sculpted, topstitched
attrs width: 20 mm, 25 mm, 30 mm, 35 mm, 40 mm; buckle: gold-tone, palladium-tone, gunmetal,
  enamelled; sizes: 70-100 cm, 75-110 cm; fit: true to size, runs large
uses {Brand} finishes {this} {noun} with hand-painted edges.
+ reversible belt | two-in-one belt, reversible strap | calfskin, grained calfskin | A swivel
  buckle turns it from one colour to another, two belts in one.
+ buckle belt | logo-buckle belt, statement belt | calfskin, suede, patent leather | A sculpted
  buckle anchors high-waisted trousers and jeans alike.
+ waist belt | corset belt, obi belt | calfskin, suede, patent leather | Cinch it over a blazer,
  coat or dress to define the waist. | width: 40 mm
+ braided belt | woven belt, plaited belt | woven leather | Its woven construction lets the prong
  sit anywhere, so there are no holes to punch.
+ skinny belt | slim belt, skinny belt | calfskin, patent leather, suede | A discreet finishing
  touch for tailored trousers. | width: 20 mm
craft leather Cut from {color} {material} and finished by hand with tight, even stitching. || Made
  in {origin} from {material} chosen for the way it wears in over the years. || {Brand} builds each
  piece in {color} {material} and checks every seam before it leaves the atelier. || The {material}
  is edged and lined with care, so the shape holds for years.
craft cloth Cut and sewn in {origin} from {color} {material} with discreet, beautifully finished
  seams. || The {material} has a soft hand and an easy drape that only improves with wear. ||
  {Brand} sources its {material} from a family-run mill and finishes every piece by hand. ||
  Rendered in {color} {material}, it is made to be worn for years rather than seasons.
craft watch The {material} case is finished with alternating brushed and polished surfaces. || It
  is water resistant to {water_resistance} and comes on {a_strap}. || {A_movement} movement beats
  beneath the {color} dial, assembled and regulated by hand. || A {case} case in {material} frames
  a {color} dial that is legible at a glance.
craft jewel Cast in {material} and polished by hand in the {brand} workshop. || Each piece is
  crafted in {origin} from {material} and arrives ready for gifting. || The {material} is given a
  {finish} finish that catches the light softly.
craft eyewear The {color} {material} frame is hand-polished and fitted with {lens} lenses. ||
  Sturdy five-barrel hinges and {a_material} frame make for a comfortable, secure fit. || Handmade
  in {origin}, the {material} frame blocks 100% of UVA and UVB rays.
craft scent Built around {material}, it opens on {top_notes} before settling into a soft, lingering
  trail. || {A_family} composition with a heart of {material}, blended by an in-house perfumer. ||
  Notes of {top_notes} give way to warm, skin-close {material}.
style wear Pair with crisp tailoring or with denim, both work. || An investment piece that feels as
  right on a Monday as on a Saturday night. || Understated and versatile, a piece that suits the
  whole wardrobe. || The {color} shade works across the seasons. || A quietly luxurious piece
  designed to be kept for years.
style watch A modern heirloom that earns its place on the wrist every day. || Understated enough
  for the office and easy to wear all weekend.
style scent Unisex by design and quietly distinctive. || A gift-worthy piece presented in a
  hand-finished box.
* outerwear | Halvorsen & Lyle | Halvorsen & Lyle belted cotton gabardine trench coat | stone |
  cotton gabardine | closure: buttons; finish: shower-proof; lining: detachable check; length:
  knee-length | Cut from tightly woven shower-proof gabardine, this double-breasted coat has a
  storm flap, throat latch and taped seams to keep you dry on grey, blustery commutes. The
  detachable lining makes it a three-season companion.
* handbags | Casa Verancci | Casa Verancci grained calfskin work tote | black | grained calfskin |
  closure: magnetic snap; hardware: palladium-tone; lining: padded laptop sleeve; size: large | A
  roomy carryall for the office that swallows a 15-inch laptop, files, a water bottle and a change
  of shoes. Reinforced handles sit comfortably on the shoulder during the commute.
* handbags | Orsaline | Orsaline crystal-embellished satin minaudière evening bag | silver | satin |
  closure: push-lock; hardware: palladium-tone; strap: detachable chain; size: mini | A jewel-like
  evening bag for galas and black-tie dinners, scattered with hand-set crystals. It holds a phone,
  a key and a lipstick, and the slender chain tucks inside when you carry it in hand.
* watches | Kessnor | Kessnor Regatta stainless steel chronograph | blue | stainless steel |
  movement: automatic; case: 42 mm; water resistance: 100 m; strap: steel bracelet; complication:
  chronograph | A sporty automatic chronograph with a tachymeter bezel and three sub-dials for
  timing laps and layovers. Water resistant to 100 m, it goes from the sailing club to the
  boardroom.
* watches | Ferrowyn | Ferrowyn Abyssal titanium dive watch | black | titanium | movement:
  automatic; case: 43 mm; water resistance: 300 m; strap: rubber strap; bezel: unidirectional |
  Built for life below the surface: a unidirectional bezel, screw-down crown and luminous indices
  stay legible 300 metres down. Featherweight titanium keeps it comfortable from reef to
  restaurant.
* shoes | Lisandre Paris | Lisandre Paris polished black leather ankle boots | black | calfskin |
  sole: stacked leather; heel: 50 mm; fit: true to size; toe: almond | Black calfskin leather
  ankle boots with a stacked heel and an inside zip, polished by hand to go from the office to
  dinner. A cushioned footbed keeps them comfortable from morning until late.
* knitwear | Thornevale | Thornevale chunky cashmere rollneck | ivory | cashmere | gauge: 3 gauge;
  fit: relaxed; weight: heavyweight | Knitted from eight-ply cashmere, this is the layer to pull on
  after a day on the slopes or for fireside evenings in the chalet.
* sunglasses | Vellacourt | Vellacourt polarised titanium aviator sunglasses | gold | titanium |
  lens: polarised green; protection: 100% UVA/UVB; fit: medium; case: hard case | Polarised lenses
  cut the glare bouncing off the water, making these a favourite for sailing, boat trips and
  coastal drives.
* fragrance | Noctéa | Noctéa Bois d'Ombre cedarwood eau de parfum | smoke grey | cedarwood |
  concentration: eau de parfum; size: 100 ml; top notes: black pepper; family: woody | A smoky,
  woody scent of cedar, vetiver and incense that lingers on a cashmere scarf long after the evening
  ends. Unisex and quietly intense.
* dresses | Atelier Morvane | Atelier Morvane draped silk satin column gown | midnight blue | silk
  satin | length: floor-length; neckline: cowl; fit: fitted; care: dry clean only | A floor-length
  column of liquid silk satin for black-tie weddings, opera premieres and charity balls. A discreet
  side slit makes it easy to move and dance in.
* outerwear | Ondrelle | Ondrelle hooded down puffer jacket | black | technical nylon | closure:
  zip; length: hip-length; fit: relaxed; lining: quilted | Filled with responsibly sourced goose
  down, it is the warmest layer in the collection for bitterly cold days well below freezing. The
  matte shell shrugs off snow and wind.
* small leather goods | Belvane | Belvane slim calfskin card holder | cognac | calfskin | closure:
  open; card slots: 4; hardware: gold-tone | A minimalist alternative to a bulky wallet, with four
  card slots and a central pocket for folded notes. Slim enough to disappear into a front trouser
  pocket.
* jewellery | Casimira | Casimira pearl and 18k white gold drop earrings | silver | 18k white gold
  | stone: pearl; finish: polished; closure: hook | Luminous freshwater pearls suspended from fine
  white-gold hooks, something to wear on a wedding day and treasure for decades after.
* belts | Tessaro Milano | Tessaro Milano reversible calfskin belt | black | calfskin | width: 35
  mm; buckle: palladium-tone; sizes: 75-110 cm | Black on one side and chocolate brown on the
  other, with a swivel buckle so one strap covers both palettes.
* scarves | Rivaulx | Rivaulx printed silk twill square scarf | orange | silk twill | dimensions:
  90 x 90 cm; edges: hand-rolled; care: dry clean | An equestrian print with hand-rolled edges. Knot
  it as a headscarf for a drive with the top down, tie it to a bag handle or wear it as a
  neckerchief.
* handbags | Lindqvist Hale | Lindqvist Hale grained calfskin weekender | cognac | grained calfskin
  | closure: zip; hardware: antique brass; strap: detachable leather; size: large | Sized for two
  nights away, this overnight holdall fits an aircraft overhead locker and has a separate
  compartment for shoes.
"""

# fmt: off
MATERIAL_FACTOR = {
    "18k yellow gold": 1.8, "18k rose gold": 1.8, "18k white gold": 1.9, "platinum": 2.2,
    "sterling silver": 0.15, "gold vermeil": 0.2, "ceramic": 1.3, "titanium": 1.2, "bronze": 0.9,
    "crocodile-embossed calfskin": 1.2, "cashmere": 1.4, "shearling": 1.5, "camel hair": 1.3,
    "coated canvas": 0.7, "technical nylon": 0.6, "raffia": 0.6, "canvas": 0.6,
    "sequinned tulle": 1.3, "silk faille": 1.2,
}
# fmt: on
ORIGINS = {"watch": ("Switzerland",), "eyewear": ("Italy", "Japan", "France")}
DEFAULT_ORIGINS = ("Italy", "France", "Spain", "Portugal")
