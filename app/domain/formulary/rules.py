"""Pure formulary knowledge: reading RxNorm-style product descriptions, drug classes, controlled
drugs and the usual adult doses and limits. No database here.

The seed (Synthea's 2018 medication costs) names products the way RxNorm does
("Amoxicillin 500 MG Oral Tablet", "120 ACTUAT Fluticasone propionate 0.044 MG/ACTUAT Metered
Dose Inhaler"), with free-text notes after " -- ", "--" or " - " and a brand in [brackets].
Some rows are packs or devices named only by their brand ("Yaz 28 Day Pack"); a few name no
dose form at all ("Diazepam [Valium]").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal

# Dose forms, longest first: form -> (route, stock unit, dose unit when doses are not written
# in the strength's unit). Routes for injections are refined per ingredient (ROUTE_BY_INGREDIENT).
FORMS: dict[str, tuple[str, str, str]] = {
    "Extended Release Oral Tablet": ("oral", "tablet", "tablet"),
    "Extended Release Oral Capsule": ("oral", "capsule", "capsule"),
    "Delayed Release Oral Capsule": ("oral", "capsule", "capsule"),
    "Chewable Tablet": ("oral", "tablet", "tablet"),
    "Oral Tablet": ("oral", "tablet", "tablet"),
    "Oral Capsule": ("oral", "capsule", "capsule"),
    "Oral Solution": ("oral", "mL", "mL"),
    "Oral Suspension": ("oral", "mL", "mL"),
    "Injectable Solution": ("intravenous", "mL", "mL"),
    "Injectable Suspension": ("subcutaneous", "mL", "mL"),
    "Prefilled Syringe": ("intravenous", "syringe", "syringe"),
    "Pen Injector": ("subcutaneous", "pen", "pen"),
    "Auto-Injector": ("intramuscular", "auto-injector", "auto-injector"),
    "Injection": ("intravenous", "vial", "vial"),
    "Metered Dose Inhaler": ("inhalation", "inhaler", "puff"),
    "Dry Powder Inhaler": ("inhalation", "inhaler", "puff"),
    "Drug Implant": ("subdermal", "implant", "implant"),
    "Intrauterine System": ("intrauterine", "device", "device"),
    "Transdermal System": ("transdermal", "patch", "patch"),
    "Vaginal Ring": ("vaginal", "ring", "ring"),
    "Topical Cream": ("topical", "tube", "application"),
    "Mucosal Spray": ("sublingual", "bottle", "spray"),
}
# Forms that are whole devices: a dose is one of them whatever the strength says.
DEVICE_FORMS = {"Drug Implant", "Intrauterine System", "Transdermal System", "Vaginal Ring"}
# A metered spray bottle with no count in its name: 200 sprays (nitroglycerin 0.4 mg/spray
# sublingual sprays are sold as 200-dose bottles). Recorded in docs/decisions.md.
SPRAYS_PER_BOTTLE = Decimal(200)
# Rows that name no dose form: every such row in the seed is an oral solid.
ASSUMED_FORM = "Oral Tablet"

# Products named by brand only (contraceptive packs, devices): brand -> generic ingredients.
BRAND_PRODUCTS: dict[str, str] = {
    "mirena": "levonorgestrel",
    "liletta": "levonorgestrel",
    "kyleena": "levonorgestrel",
    "camila": "norethindrone",
    "errin": "norethindrone",
    "jolivette": "norethindrone",
    "norinyl": "mestranol / norethindrone",
    "estrostep fe": "ethinyl estradiol / norethindrone acetate",
    "ortho tri-cyclen": "ethinyl estradiol / norgestimate",
    "trinessa": "ethinyl estradiol / norgestimate",
    "seasonique": "ethinyl estradiol / levonorgestrel",
    "yaz": "drospirenone / ethinyl estradiol",
    "natazia": "dienogest / estradiol valerate",
    "levora": "ethinyl estradiol / levonorgestrel",
    "nuvaring": "ethinyl estradiol / etonogestrel",
}

ROUTE_BY_INGREDIENT: dict[str, str] = {
    "medroxyprogesterone": "intramuscular",
    "epinephrine": "intramuscular",
    "insulin": "subcutaneous",
    "liraglutide": "subcutaneous",
}

# Ingredient (its first word, lower case) -> class, for allergy checks and the formulary list.
_CLASSES: dict[str, tuple[str, ...]] = {
    "penicillins": ("amoxicillin", "ampicillin", "penicillin", "flucloxacillin", "piperacillin"),
    "cephalosporins": ("cefaclor", "cefuroxime", "cephalexin", "cefalexin", "ceftriaxone"),
    "tetracyclines": ("doxycycline",),
    "nitrofurans": ("nitrofurantoin",),
    "nsaids": ("ibuprofen", "naproxen", "aspirin", "diclofenac"),
    "analgesics": ("acetaminophen", "paracetamol"),
    "opioids": ("oxycodone", "hydrocodone", "methadone", "meperidine", "morphine", "codeine",
                "tramadol", "fentanyl"),
    "benzodiazepines": ("diazepam", "clonazepam", "lorazepam", "midazolam"),
    "stimulants": ("methylphenidate",),
    "gabapentinoids": ("pregabalin", "gabapentin"),
    "corticosteroids": ("prednisone", "hydrocortisone", "fluticasone"),
    "beta2 agonists": ("albuterol", "salmeterol"),
    "antihistamines": ("diphenhydramine", "chlorpheniramine", "astemizole", "terfenadine",
                       "loratadine", "fexofenadine", "cetirizine", "doxylamine"),
    "antitussives": ("dextromethorphan",),
    "cholinesterase inhibitors": ("galantamine", "donepezil", "tacrine"),
    "nmda antagonists": ("memantine",),
    "anticonvulsants": ("carbamazepine",),
    "snris": ("duloxetine", "milnacipran"),
    "adhd non-stimulants": ("atomoxetine",),
    "antigout": ("colchicine", "allopurinol"),
    "antineoplastics": ("cisplatin", "etoposide", "paclitaxel", "oxaliplatin", "methotrexate"),
    "folate analogues": ("leucovorin",),
    "immunosuppressants": ("cyclosporine",),
    "biguanides": ("metformin",),
    "glp-1 agonists": ("liraglutide",),
    "sglt2 inhibitors": ("canagliflozin",),
    "insulins": ("insulin",),
    "bisphosphonates": ("alendronic", "alendronate"),
    "urinary analgesics": ("phenazopyridine",),
    "antiplatelets": ("clopidogrel",),
    "calcium channel blockers": ("amlodipine", "verapamil"),
    "antiarrhythmics": ("amiodarone",),
    "nitrates": ("nitroglycerin",),
    "anticholinergics": ("atropine",),
    "statins": ("simvastatin", "atorvastatin"),
    "cardiac glycosides": ("digoxin",),
    "thrombolytics": ("alteplase",),
    "anticoagulants": ("warfarin",),
    "ace inhibitors": ("captopril",),
    "sympathomimetics": ("epinephrine",),
    "hormonal contraceptives": ("levonorgestrel", "etonogestrel", "medroxyprogesterone",
                                "norethindrone", "ethinyl", "mestranol", "norethynodrel",
                                "norgestimate", "drospirenone", "dienogest", "estradiol",
                                "norelgestromin"),
}
INGREDIENT_CLASS: dict[str, str] = {ing: cls for cls, ings in _CLASSES.items() for ing in ings}
# The class shown for a combination: the first of these its ingredients belong to.
CLASS_PRIORITY = ("opioids", "benzodiazepines", "stimulants", "gabapentinoids", "penicillins",
                  "cephalosporins", "nsaids")
# Controlled drugs (Schedule II-V / UK CD 2-4): kept on the controlled-drug register.
CONTROLLED_CLASSES = frozenset({"opioids", "benzodiazepines", "stimulants", "gabapentinoids"})

# The usual adult dose and limits per generic name, in the unit they are written in.
# generic -> (dose unit, default dose, default frequency, max single dose, max daily dose).
# Sources: the BNF adult doses and the US product labels (docs/decisions.md). A generic that is
# not here, or whose products are dosed in another unit, gets no limit (None: no check).
DOSING: dict[str, tuple[str, str | None, str | None, str | None, str | None]] = {
    "amoxicillin": ("mg", "500", "TID", "1000", "3000"),
    "ampicillin": ("mg", "500", "Q6H", "2000", "12000"),
    "penicillin v potassium": ("mg", "500", "QID", "1000", "4000"),
    "cefaclor": ("mg", "250", "TID", "1000", "4000"),
    "cefuroxime": ("mg", "250", "BID", "500", "1000"),
    "doxycycline monohydrate": ("mg", "100", "QD", "200", "200"),
    "ibuprofen": ("mg", "400", "TID", "800", "2400"),
    "naproxen": ("mg", "500", "BID", "750", "1250"),
    "naproxen sodium": ("mg", "220", "BID", "440", "660"),
    "aspirin": ("mg", "81", "QD", "1000", "4000"),
    "acetaminophen": ("mg", "650", "Q6H", "1000", "4000"),
    "acetaminophen / oxycodone hydrochloride": ("tablet", "1", "Q6H", "2", "12"),
    "acetaminophen / hydrocodone bitartrate": ("tablet", "1", "Q6H", "2", "8"),
    "oxycodone hydrochloride": ("mg", "5", "Q6H", None, None),
    "meperidine hydrochloride": ("mg", "50", "Q4H", "150", "600"),
    "methadone hydrochloride": ("mg", "5", "BID", None, None),
    "pregabalin": ("mg", "100", "TID", "300", "600"),
    "methylphenidate hydrochloride": ("mg", "10", "BID", "30", "60"),
    "atomoxetine": ("mg", "100", "QD", "100", "100"),
    "prednisone": ("mg", None, "QD", None, None),
    "metformin hydrochloride": ("mg", "500", "QD", "2000", "2000"),
    "simvastatin": ("mg", "20", "HS", "80", "80"),
    "atorvastatin": ("mg", "80", "QD", "80", "80"),
    "warfarin sodium": ("mg", "5", "QD", None, None),
    "amlodipine": ("mg", "5", "QD", "10", "10"),
    "clopidogrel": ("mg", "75", "QD", "600", "600"),
    "digoxin": ("mg", "0.125", "QD", "0.5", "1"),
    "captopril": ("mg", "25", "TID", "50", "150"),
    "allopurinol": ("mg", "100", "QD", "300", "900"),
    "colchicine": ("mg", "0.6", "BID", "1.2", "1.8"),
    "loratadine": ("mg", "10", "QD", "10", "10"),
    "cetirizine hydrochloride": ("mg", "10", "QD", "10", "10"),
    "fexofenadine hydrochloride": ("mg", "60", "BID", "180", "180"),
    "diphenhydramine hydrochloride": ("mg", "25", "Q6H", "50", "300"),
    "chlorpheniramine maleate": ("mg", "4", "Q6H", "4", "24"),
    "nitrofurantoin macrocrystals": ("mg", "50", "QID", "100", "400"),
    "phenazopyridine hydrochloride": ("mg", "100", "TID", "200", "600"),
    "duloxetine": ("mg", "60", "QD", "120", "120"),
    "galantamine": ("mg", "4", "BID", "12", "24"),
    "donepezil hydrochloride": ("mg", "10", "QD", "23", "23"),
    "memantine hydrochloride": ("mg", "5", "QD", "10", "20"),
    "albuterol": ("puff", "2", "PRN", None, None),
    "fluticasone propionate": ("puff", "2", "BID", None, None),
    "epinephrine": ("mg", "0.3", "STAT", "0.5", None),
    "nitroglycerin": ("spray", "1", "PRN", "1", None),
}


@dataclass(frozen=True)
class ParsedProduct:
    """What one seed description says about a product."""

    name: str  # the product description without notes or brand
    generic_name: str  # lower case, ingredients joined " / "
    ingredients: tuple[str, ...]
    strength: str | None
    form: str
    route: str
    dose_unit: str
    stock_unit: str
    dose_per_stock_unit: Decimal | None
    brand: str | None
    notes: str | None
    drug_class: str | None
    controlled: bool
    default_dose: Decimal | None = None
    default_frequency: str | None = None
    max_single_dose: Decimal | None = None
    max_daily_dose: Decimal | None = None
    warnings: list[str] = field(default_factory=list)


_NOTE_SPLIT = re.compile(r"\s*--\s*|\s+-\s+")
_BRACKET = re.compile(r"\s*\[([^\]]+)\]\s*")
_QUALIFIER = re.compile(r"^(?:NDA\d+\s+|Abuse-Deterrent\s+)")
_DURATION = re.compile(r"^(\d+)\s+HR\s+")
_QUANTITY = re.compile(r"^(\d+(?:\.\d+)?)\s+(ML|ACTUAT)\s+")
_DAY_PACK = re.compile(r"\s*(\d+)\s+Day\s+Pack$")
_STRENGTH = re.compile(r"^(?P<name>.*?)\s+(?P<num>\d+(?:\.\d+)?)\s+(?P<unit>MG|MCG|UNT|ML)"
                       r"(?:/(?P<per>ML|ACTUAT|HR))?$")
_UNIT_WORDS = {"MG": "mg", "MCG": "microgram", "UNT": "unit", "ML": "mL"}


def split_description(comments: str) -> tuple[str, str | None, str | None]:
    """(product, brand, notes) from a seed COMMENTS cell."""
    text = " ".join(comments.split())
    brands = _BRACKET.findall(text)
    text = _BRACKET.sub(" ", text).strip()
    parts = _NOTE_SPLIT.split(text, maxsplit=1)
    product = parts[0].strip()
    notes = parts[1].strip() if len(parts) > 1 and parts[1].strip() else None
    brand = brands[0].strip() if brands else None
    return product, brand, notes


def ingredient_base(ingredient: str) -> str:
    """The ingredient's first word, lower case: "oxycodone hydrochloride" -> "oxycodone"."""
    words = ingredient.lower().replace("-", " ").split()
    return words[0] if words else ""


def classes_of(generic_name: str) -> list[str]:
    """Every class the product's ingredients belong to, in ingredient order, no repeats."""
    found: list[str] = []
    for ingredient in generic_name.split(" / "):
        cls = INGREDIENT_CLASS.get(ingredient_base(ingredient))
        if cls and cls not in found:
            found.append(cls)
    return found


def main_class(generic_name: str) -> str | None:
    classes = classes_of(generic_name)
    for cls in CLASS_PRIORITY:
        if cls in classes:
            return cls
    return classes[0] if classes else None


def is_controlled(generic_name: str) -> bool:
    return any(cls in CONTROLLED_CLASSES for cls in classes_of(generic_name))


def _dec(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _take_form(text: str) -> tuple[str, str | None]:
    for form in FORMS:  # longest first by construction
        if text == form or text.endswith(" " + form):
            return text[: -len(form)].strip(), form
    return text, None


def parse_product(comments: str) -> ParsedProduct:
    """Read one seed description. Never fails: what it cannot read is left out and noted."""
    product, brand, notes = split_description(comments)
    warnings: list[str] = []
    rest = _QUALIFIER.sub("", product)
    rest = _DURATION.sub("", rest)
    volume: Decimal | None = None
    actuations: Decimal | None = None
    if m := _QUANTITY.match(rest):
        amount = Decimal(m.group(1))
        if m.group(2) == "ML":
            volume = amount
        else:
            actuations = amount
        rest = rest[m.end():]
    pack_days: int | None = None
    if m := _DAY_PACK.search(rest):
        pack_days = int(m.group(1))
        rest = rest[: m.start()].strip()
    # A brand-only product ("Yaz 28 Day Pack", "Mirena 52 MG Intrauterine System").
    generic_from_brand: str | None = None
    lowered = rest.lower()
    for key in sorted(BRAND_PRODUCTS, key=len, reverse=True):
        if lowered == key or lowered.startswith(key + " "):
            brand = brand or rest[: len(key)]
            generic_from_brand = BRAND_PRODUCTS[key]
            rest = rest[len(key):].strip()
            break
    rest, form = _take_form(rest)
    if pack_days is not None:
        form = "Day Pack"
    elif form is None:
        form = ASSUMED_FORM
        warnings.append("dose form not named in the source; assumed oral tablet")

    strengths: list[tuple[str, Decimal, str, str | None]] = []  # (name, number, unit, per)
    names: list[str] = []
    if generic_from_brand is not None:
        names = generic_from_brand.split(" / ")
        strength_text = rest or None
    else:
        for part in (p.strip() for p in rest.split(" / ")):
            if not part:
                continue
            if m := _STRENGTH.match(part):
                names.append(m.group("name"))
                strengths.append((m.group("name"), Decimal(m.group("num")), m.group("unit"), m.group("per")))
            else:
                names.append(part)
        strength_text = " / ".join(f"{_fmt(n)} {u}{'/' + p if p else ''}" for _, n, u, p in strengths) or None
    names = [" ".join(n.lower().split()) for n in names if n.strip()]
    generic = " / ".join(names)

    if form == "Day Pack":
        route, stock_unit, dose_unit = "oral", "pack", "tablet"
        per_stock: Decimal | None = Decimal(pack_days or 1)
        form = f"{pack_days} Day Pack"
    else:
        route, stock_unit, fallback_unit = FORMS[form]
        dose_unit, per_stock = _dose_units(form, stock_unit, fallback_unit, strengths, volume, actuations)
    for ingredient in names:
        route = ROUTE_BY_INGREDIENT.get(ingredient_base(ingredient), route)

    dosing = DOSING.get(generic)
    defaults: tuple[Decimal | None, str | None, Decimal | None, Decimal | None] = (None, None, None, None)
    if dosing is not None and dosing[0] == dose_unit:
        defaults = (_dec(dosing[1]), dosing[2], _dec(dosing[3]), _dec(dosing[4]))
    return ParsedProduct(
        name=product, generic_name=generic, ingredients=tuple(names), strength=strength_text,
        form=form, route=route, dose_unit=dose_unit, stock_unit=stock_unit,
        dose_per_stock_unit=per_stock, brand=brand, notes=notes, drug_class=main_class(generic),
        controlled=is_controlled(generic), default_dose=defaults[0], default_frequency=defaults[1],
        max_single_dose=defaults[2], max_daily_dose=defaults[3], warnings=warnings,
    )


def _fmt(number: Decimal) -> str:
    text = format(number, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _dose_units(form: str, stock_unit: str, fallback_unit: str,
                strengths: list[tuple[str, Decimal, str, str | None]],
                volume: Decimal | None, actuations: Decimal | None) -> tuple[str, Decimal | None]:
    """(dose unit, how much of it one stock unit holds)."""
    if form in DEVICE_FORMS:
        return stock_unit, None
    if fallback_unit == "puff":  # inhalers: doses in puffs, stock in inhalers of N puffs
        return "puff", actuations
    if fallback_unit == "spray":
        return "spray", SPRAYS_PER_BOTTLE
    if fallback_unit == "application":
        return "application", None
    if not strengths:
        return stock_unit, None
    units = {(u, p) for _, _, u, p in strengths}
    if len(strengths) > 1:
        # Insulin mixtures: units add up (70 + 30 = 100 units/mL); other mixtures are dosed in
        # stock units (a tablet of co-amoxiclav, a mL of cough syrup).
        if units == {("UNT", "ML")}:
            total = sum((n for _, n, _, _ in strengths), Decimal(0))
            return "unit", total * volume if volume is not None else total
        return stock_unit, None
    _, number, unit, per = strengths[0]
    dose_unit = _UNIT_WORDS.get(unit, unit.lower())
    if per is None:
        return dose_unit, number
    if per == "ML":
        return dose_unit, number * volume if volume is not None else number
    return stock_unit, None  # MG/HR and the like: dosed as whole units
