"""How likely two patient records are the same person: a Fellegi–Sunter match weight.

Each field is compared into a level (same, close, swapped, different, missing). Every level
carries the log2 likelihood ratio log2(m/u), where m is how often two records *of the same
person* land on that level and u how often two records *of different people* do. The weights
add up with the prior log2 odds that a given existing record is the person at the desk, and the
total becomes a probability-like score in [0, 1] (the logistic of the weight in base 2). So a
score of 0.9 reads as "nine to one that these are one person", and the reasons list the levels
that moved it.

The m and u values below are estimates, not fitted to this hospital's data: u for a date of birth
is one day in a hundred years, u for a family name is the chance two strangers share one in a
British or mixed city population, m for a one-digit date typo is what registration audits report
(a few per cent). They were then checked against the cases in tests/domain/registry/test_rules.py
(typos, swaps, twins, parents and children sharing a phone, name changes at marriage), which
land on the intended side of the default threshold of 0.5 (DUPLICATE_THRESHOLD).

Blocking (which existing records are worth scoring at all) follows from the weights. Without a
shared phone or national id, only a birth date that is the same, swapped or a year off
(`near_dates`), or one typo away (`typo_dates`) together with a name word in common, can reach
the default threshold; `shares_block` states that rule and the database query implements it. A
Hypothesis property checks that every pair over the threshold shares a block.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from functools import lru_cache

from rapidfuzz.distance import OSA

from app.domain.patients.rules import normalise_name

DEFAULT_THRESHOLD = 0.5

# Prior log2 odds that one particular existing record is the person being registered: about one
# in two million. Registrations that duplicate an existing record are a few per cent of all
# registrations, spread over a register of about a million people.
PRIOR_LOG2_ODDS = -21.0

# Swapped given and family names are a common clerical slip but a weaker sign than a straight
# agreement (some names are both given and family names: "James", "Thomas", "Lee").
SWAP_PENALTY = 1.0


class Level(StrEnum):
    SAME = "same"
    CLOSE = "close"  # a typo: transposed letters, one letter off, a digit off
    PARTIAL = "partial"  # one name of several, an initial, a swap of day and month
    DIFFERENT = "different"
    MISSING = "missing"  # absent on either side: no evidence either way


def _w(m: float, u: float) -> float:
    return math.log2(m / u)


# (m, u) per level. Comments give the reasoning for the u of agreement levels.
FAMILY = {
    Level.SAME: _w(0.90, 0.002),  # sum of squared surname frequencies in a mixed city
    Level.CLOSE: _w(0.06, 0.002),
    Level.PARTIAL: _w(0.02, 0.004),  # one of several family names
    Level.DIFFERENT: _w(0.02, 0.99),
}
GIVEN = {
    Level.SAME: _w(0.85, 0.005),
    Level.CLOSE: _w(0.06, 0.004),
    Level.PARTIAL: _w(0.07, 0.03),  # middle names dropped, initials: common among strangers too
    Level.DIFFERENT: _w(0.02, 0.96),
}
DOB_SAME = _w(0.92, 1 / 36_500)  # one day in a hundred years
DOB_SWAPPED = _w(0.015, 1 / 36_500)  # day and month exchanged (US vs European order)
DOB_YEAR_OFF = _w(0.015, 2 / 36_500)  # the same day, a year before or after
DOB_TYPO = _w(0.03, 0.001)  # ~35 dates are one digit (or one adjacent swap) away from any date
DOB_DIFFERENT = _w(0.02, 0.999)
SEX = {Level.SAME: _w(0.96, 0.5), Level.DIFFERENT: _w(0.04, 0.5)}
PHONE = {
    Level.SAME: _w(0.5, 0.002),  # households share a number: a modest u
    Level.DIFFERENT: _w(0.5, 0.998),  # people change numbers: weak evidence against
}
NATIONAL_ID = {
    Level.SAME: _w(0.98, 1e-6),
    Level.CLOSE: _w(0.005, 1e-4),  # one character mistyped
    # A conflicting national id is strong evidence of two people: it outweighs the same name,
    # date of birth and sex together, unless something else (a shared phone) also agrees.
    Level.DIFFERENT: _w(0.0002, 0.999),
}


@dataclass(frozen=True)
class Person:
    """What the scoring reads of a patient record or a registration form."""

    family_name: str
    given_names: str
    birth_date: date
    sex: str | None = None
    phone: str | None = None  # E.164 (+441632960001) or None
    national_id: str | None = None


@dataclass(frozen=True)
class Comparison:
    score: float  # 0..1
    weight: float  # log2 odds, prior included
    reasons: tuple[str, ...]  # strongest evidence first; evidence against is listed too
    levels: dict[str, Level] = field(default_factory=dict)  # per demographic field, for display


# --- normalisation -----------------------------------------------------------------------------

@lru_cache(maxsize=65_536)  # names repeat: a check scores ~100 candidates, many share a name
def name_tokens(text: str) -> tuple[str, ...]:
    """The words of a name as the search columns hold them (patients.rules.normalise_name:
    case and accents folded, apostrophes dropped, other punctuation a separator), so that what
    is scored here is what the database blocks on. A name of punctuation only keeps its
    case-folded self, so every non-blank name has at least one word."""
    words = tuple(normalise_name(text).split())
    if words:
        return words
    rest = text.strip().casefold()
    return (rest,) if rest else ()


def normalise_national_id(value: str | None) -> str | None:
    if not value:
        return None
    cleaned = "".join(ch for ch in value if ch.isalnum()).upper()
    return cleaned or None


def normalise_sex(value: str | None) -> str | None:
    value = (value or "").strip().lower()
    return None if value in {"", "unknown"} else value


# --- field comparisons -------------------------------------------------------------------------


def _transposed(a: str, b: str) -> bool:
    if len(a) != len(b):
        return False
    diff = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
    return len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]]


def typo(a: str, b: str) -> str | None:
    """How two different spellings of a word differ, when the difference looks like a typing
    slip rather than another word; None otherwise. Short words need a closer match: "Li" and
    "Lu" are different names, "Smith" and "Smtih" are not."""
    if a == b or abs(len(a) - len(b)) > 2:
        return None
    distance = OSA.distance(a, b, score_cutoff=2)  # C, and a transposition counts as one edit
    shortest = min(len(a), len(b))
    if distance == 1:
        if shortest >= 3 and _transposed(a, b):
            return "transposed letters"
        if shortest >= 4:
            return "one letter different" if len(a) == len(b) else "one letter missing"
    if distance == 2 and shortest >= 7:
        return "spelled differently"
    return None


@dataclass(frozen=True)
class PartMatch:
    level: Level
    detail: str = ""


def compare_part(a: tuple[str, ...], b: tuple[str, ...]) -> PartMatch:
    """Compare one name part (the family names, or the given names), each a tuple of words.
    Symmetric in a and b."""
    if not a or not b:
        return PartMatch(Level.MISSING)
    joined_a, joined_b = "".join(a), "".join(b)
    if joined_a == joined_b:
        return PartMatch(Level.SAME)
    slip = typo(joined_a, joined_b)
    if slip:
        return PartMatch(Level.CLOSE, slip)
    if set(a) & set(b):
        return PartMatch(Level.PARTIAL, "shared")
    if any(typo(x, y) for x in a for y in b):
        return PartMatch(Level.PARTIAL, "shared")
    if any(_initial_of(x, y) or _initial_of(y, x) for x in a for y in b):
        return PartMatch(Level.PARTIAL, "initial")
    return PartMatch(Level.DIFFERENT)


def _initial_of(initial: str, word: str) -> bool:
    return len(initial) == 1 and len(word) > 1 and word.startswith(initial)


def compare_birth_dates(a: date, b: date) -> tuple[float, Level, str]:
    if a == b:
        return DOB_SAME, Level.SAME, "same date of birth"
    if a.year == b.year and a.day == b.month and a.month == b.day:
        return DOB_SWAPPED, Level.PARTIAL, "day and month of birth swapped"
    if (a.month, a.day) == (b.month, b.day) and abs(a.year - b.year) == 1:
        return DOB_YEAR_OFF, Level.CLOSE, "year of birth one year apart"
    sa, sb = a.strftime("%Y%m%d"), b.strftime("%Y%m%d")
    if sum(x != y for x, y in zip(sa, sb, strict=True)) == 1:
        return DOB_TYPO, Level.CLOSE, "date of birth one digit different"
    if _transposed(sa, sb):
        return DOB_TYPO, Level.CLOSE, "two digits of the date of birth transposed"
    return DOB_DIFFERENT, Level.DIFFERENT, "different date of birth"


def _valid(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def near_dates(d: date) -> set[date]:
    """Birth dates close enough to d that the name alone can carry a pair over the threshold:
    the same date, day and month swapped, and the same day a year either side."""
    found = {d, _valid(d.year, d.day, d.month), _valid(d.year - 1, d.month, d.day),
             _valid(d.year + 1, d.month, d.day)}
    return {x for x in found if x is not None}


def typo_dates(d: date, earliest: int = 1850, latest: int = 2200) -> set[date]:
    """Valid dates one digit away from d (as YYYYMMDD), or with two adjacent digits swapped."""
    text = d.strftime("%Y%m%d")
    variants: set[str] = set()
    for i in range(8):
        for digit in "0123456789":
            if digit != text[i]:
                variants.add(text[:i] + digit + text[i + 1:])
        if i < 7 and text[i] != text[i + 1]:
            variants.add(text[:i] + text[i + 1] + text[i] + text[i + 2:])
    found: set[date] = set()
    for v in variants:
        parsed = _valid(int(v[:4]), int(v[4:6]), int(v[6:]))
        if parsed is not None and earliest <= parsed.year <= latest:
            found.add(parsed)
    return found - near_dates(d)


# --- the score ---------------------------------------------------------------------------------

_PART_WORDS = {"family": "family name", "given": "given name"}


def _part_reason(part: str, match: PartMatch) -> str:
    noun = _PART_WORDS[part]
    if match.level is Level.SAME:
        return f"same {noun}"
    if match.level is Level.CLOSE:
        return f"{noun} similar ({match.detail})"
    if match.level is Level.PARTIAL:
        if match.detail == "initial":
            return f"{noun} initial matches"
        return "one of the given names matches" if part == "given" else "one of the family names matches"
    return f"different {noun}"


@dataclass(frozen=True)
class _NameResult:
    weight: float
    reasons: list[tuple[float, str]]
    family: Level
    given: Level


def _cross_weight(match: PartMatch) -> float:
    # A part compared against the other record's other part: use the mean of the two tables so
    # that comparing A with B and B with A add up the same terms.
    if match.level is Level.MISSING:
        return 0.0
    return (FAMILY[match.level] + GIVEN[match.level]) / 2


def compare_names(a: Person, b: Person) -> _NameResult:
    fa, ga = name_tokens(a.family_name), name_tokens(a.given_names)
    fb, gb = name_tokens(b.family_name), name_tokens(b.given_names)
    family, given = compare_part(fa, fb), compare_part(ga, gb)
    straight = FAMILY.get(family.level, 0.0) + GIVEN.get(given.level, 0.0)
    best = _NameResult(straight, [], family.level, given.level)
    if family.level is Level.SAME and given.level is Level.SAME:
        accents = (a.family_name.strip().casefold(), a.given_names.strip().casefold()) != (
            b.family_name.strip().casefold(), b.given_names.strip().casefold())
        label = "same name (ignoring accents and punctuation)" if accents else "same name"
        return _NameResult(straight, [(straight, label)], family.level, given.level)
    best.reasons.extend([(FAMILY.get(family.level, 0.0), _part_reason("family", family))]
                        if family.level is not Level.MISSING else [])
    best.reasons.extend([(GIVEN.get(given.level, 0.0), _part_reason("given", given))]
                        if given.level is not Level.MISSING else [])

    reordered = bool(fa and ga and fb and gb) and sorted(fa + ga) == sorted(fb + gb)
    if reordered:
        weight = FAMILY[Level.SAME] + GIVEN[Level.SAME] - SWAP_PENALTY
        if weight > best.weight:
            label = ("given and family names swapped" if (fa, ga) == (gb, fb)
                     else "same names in a different order")
            return _NameResult(weight, [(weight, label)], Level.PARTIAL, Level.PARTIAL)

    one, two = compare_part(fa, gb), compare_part(ga, fb)
    if Level.MISSING not in (one.level, two.level):
        cross = _cross_weight(one) + _cross_weight(two) - SWAP_PENALTY
        if cross > best.weight:
            reasons = [(cross, "given and family names swapped")]
            for match in (one, two):
                if match.level in (Level.CLOSE, Level.PARTIAL):
                    reasons.append((0.0, "after the swap, " + _part_reason("family", match)
                                    .replace("family name", "name")))
            return _NameResult(cross, reasons, Level.PARTIAL, Level.PARTIAL)
    return best


def _compare_exact(a: str | None, b: str | None, close_ok: bool) -> Level:
    if not a or not b:
        return Level.MISSING
    if a == b:
        return Level.SAME
    if close_ok and min(len(a), len(b)) >= 5 and OSA.distance(a, b, score_cutoff=1) <= 1:
        return Level.CLOSE
    return Level.DIFFERENT


_SEX_REASONS = {Level.SAME: "same sex", Level.DIFFERENT: "different sex"}
_PHONE_REASONS = {Level.SAME: "same phone number", Level.DIFFERENT: "different phone numbers"}
_NATIONAL_ID_REASONS = {
    Level.SAME: "same national id",
    Level.CLOSE: "national id one character different",
    Level.DIFFERENT: "different national ids",
}


def compare(a: Person, b: Person) -> Comparison:
    """Score two records. Symmetric: compare(a, b) and compare(b, a) give the same score."""
    names = compare_names(a, b)
    dob_weight, dob_level, dob_reason = compare_birth_dates(a.birth_date, b.birth_date)
    sex = _compare_exact(normalise_sex(a.sex), normalise_sex(b.sex), close_ok=False)
    phone = _compare_exact(a.phone, b.phone, close_ok=False)
    national_id = _compare_exact(normalise_national_id(a.national_id),
                                 normalise_national_id(b.national_id), close_ok=True)

    evidence = [*names.reasons, (dob_weight, dob_reason)]
    total = PRIOR_LOG2_ODDS + names.weight + dob_weight
    for level, weights, reasons in ((sex, SEX, _SEX_REASONS), (phone, PHONE, _PHONE_REASONS),
                                    (national_id, NATIONAL_ID, _NATIONAL_ID_REASONS)):
        if level is not Level.MISSING:
            total += weights[level]
            evidence.append((weights[level], reasons[level]))

    # Reasons for, strongest first; then reasons against, strongest first.
    evidence.sort(key=lambda e: (e[0] < 0, -abs(e[0])))
    levels = {"family_name": names.family, "given_names": names.given, "birth_date": dob_level,
              "sex": sex, "phone": phone, "national_id": national_id}
    return Comparison(score=logistic2(total), weight=total,
                      reasons=tuple(reason for _, reason in evidence), levels=levels)


def logistic2(weight: float) -> float:
    """Probability from log2 odds; bounded so that no weight overflows."""
    weight = max(-1000.0, min(1000.0, weight))
    return 1.0 / (1.0 + 2.0 ** (-weight))


# --- blocking ----------------------------------------------------------------------------------


def shares_block(a: Person, b: Person) -> bool:
    """Whether the database's candidate query for `a` returns `b` (its pure twin, for tests):
    the same national id, the same phone, a near birth date, or a birth date one typo away
    together with at least one name word in common. For the default weights and threshold every
    pair that scores over the threshold shares a block (property-tested)."""
    nid_a = normalise_national_id(a.national_id)
    if nid_a and nid_a == normalise_national_id(b.national_id):
        return True
    if a.phone and a.phone == b.phone:
        return True
    if b.birth_date in near_dates(a.birth_date):
        return True
    if b.birth_date in typo_dates(a.birth_date):
        words_a = set(name_tokens(a.family_name) + name_tokens(a.given_names))
        return bool(words_a & set(name_tokens(b.family_name) + name_tokens(b.given_names)))
    return False
