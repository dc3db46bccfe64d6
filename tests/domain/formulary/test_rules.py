"""Reading the reference product descriptions into formulary fields."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import assume, given
from hypothesis import strategies as st

from app.domain.formulary import rules


def test_a_plain_tablet_is_dosed_in_mg_and_counted_in_tablets() -> None:
    p = rules.parse_product("Amoxicillin 500 MG Oral Tablet")
    assert (p.generic_name, p.strength, p.form, p.route) == ("amoxicillin", "500 MG", "Oral Tablet", "oral")
    assert (p.dose_unit, p.stock_unit, p.dose_per_stock_unit) == ("mg", "tablet", Decimal("500"))
    assert p.drug_class == "penicillins" and not p.controlled
    assert (p.default_dose, p.default_frequency, p.max_single_dose, p.max_daily_dose) == (
        Decimal("500"), "TID", Decimal("1000"), Decimal("3000"))


def test_notes_and_brand_are_split_off_the_name() -> None:
    p = rules.parse_product("Chlorpheniramine Maleate 2 MG/ML Oral Solution - otc [Chlor-Timeton] - see otc_antihistamine")
    assert p.name == "Chlorpheniramine Maleate 2 MG/ML Oral Solution"
    assert p.brand == "Chlor-Timeton" and p.notes == "otc - see otc_antihistamine"
    assert (p.dose_unit, p.stock_unit, p.dose_per_stock_unit) == ("mg", "mL", Decimal("2"))
    q = rules.parse_product(" Etonogestrel 68 MG Drug Implant-- assuming the same cost for all 3 implants")
    assert q.generic_name == "etonogestrel" and q.notes and q.notes.startswith("assuming")
    assert (q.form, q.dose_unit, q.stock_unit, q.route) == ("Drug Implant", "implant", "implant", "subdermal")


def test_combinations_join_ingredients_and_are_dosed_in_tablets() -> None:
    p = rules.parse_product("Acetaminophen 325 MG / oxyCODONE Hydrochloride 2.5 MG [Percocet]")
    assert p.generic_name == "acetaminophen / oxycodone hydrochloride"
    assert p.strength == "325 MG / 2.5 MG" and p.brand == "Percocet"
    assert p.drug_class == "opioids" and p.controlled
    assert (p.dose_unit, p.stock_unit, p.dose_per_stock_unit) == ("tablet", "tablet", None)
    assert "assumed oral tablet" in p.warnings[0]


def test_volumes_and_actuations_give_the_amount_in_one_stock_unit() -> None:
    pen = rules.parse_product("3 ML liraglutide 6 MG/ML Pen Injector -- note: I see 2-pak and 3-pak")
    assert (pen.dose_unit, pen.stock_unit, pen.dose_per_stock_unit, pen.route) == ("mg", "pen", Decimal("18"), "subcutaneous")
    inhaler = rules.parse_product("120 ACTUAT Fluticasone propionate 0.044 MG/ACTUAT Metered Dose Inhaler")
    assert (inhaler.dose_unit, inhaler.stock_unit, inhaler.dose_per_stock_unit) == ("puff", "inhaler", Decimal("120"))
    insulin = rules.parse_product("insulin human  isophane 70 UNT/ML / Regular Insulin  Human 30 UNT/ML "
                                  "Injectable Suspension [Humulin]")
    assert (insulin.dose_unit, insulin.dose_per_stock_unit, insulin.brand) == ("unit", Decimal("100"), "Humulin")
    epi = rules.parse_product("NDA020800 0.3 ML Epinephrine 1 MG/ML Auto-Injector")
    assert (epi.generic_name, epi.dose_per_stock_unit, epi.route) == ("epinephrine", Decimal("0.3"), "intramuscular")


def test_brand_only_packs_get_their_generic_and_pack_count() -> None:
    p = rules.parse_product("Seasonique 91 Day Pack")
    assert p.generic_name == "ethinyl estradiol / levonorgestrel" and p.brand == "Seasonique"
    assert (p.form, p.dose_unit, p.stock_unit, p.dose_per_stock_unit) == ("91 Day Pack", "tablet", "pack", Decimal("91"))
    assert rules.parse_product("Ortho Tri-Cyclen 28 Day Pack").brand == "Ortho Tri-Cyclen"


def test_controlled_drugs_and_classes() -> None:
    assert rules.parse_product("Diazepam [Valium]").controlled
    assert rules.parse_product("pregabalin 100 MG Oral Capsule").controlled
    assert rules.parse_product("Methylphenidate Hydrochloride 20 MG Oral Tablet").controlled
    assert not rules.parse_product("Ibuprofen 200 MG Oral Tablet").controlled
    assert rules.parse_product("Cefaclor 250 MG Oral Capsule").drug_class == "cephalosporins"
    assert rules.classes_of("amoxicillin / clavulanate") == ["penicillins"]


_WORDS = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=3, max_size=12)


@given(name=_WORDS, strength=st.decimals(min_value=Decimal("0.001"), max_value=Decimal("5000"), places=3),
       form=st.sampled_from(["Oral Tablet", "Oral Capsule", "Injection"]),
       note=st.sampled_from(["", " -- a note", " - OTC", "-- x"]))
def test_any_single_ingredient_product_reads_back(name: str, strength: Decimal, form: str, note: str) -> None:
    assume(name not in rules.BRAND_PRODUCTS)  # brand-only products read as their generic
    text = f"{name.capitalize()} {strength.normalize():f} MG {form}{note}"
    p = rules.parse_product(text)
    assert p.generic_name == name
    assert p.form == form and p.dose_unit == "mg"
    assert p.dose_per_stock_unit == strength
    assert p.strength is not None and p.strength.endswith(" MG")


@given(st.text(max_size=200))
def test_parsing_never_fails(text: str) -> None:
    p = rules.parse_product(text)
    assert p.form and p.route and p.dose_unit and p.stock_unit
