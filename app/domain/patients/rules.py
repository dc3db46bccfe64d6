"""Pure rules about patient identity: MRNs, normalised names, phones, national ids, and what a
reception search box was given."""

from __future__ import annotations

import importlib
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from types import ModuleType

import phonenumbers
from rapidfuzz import fuzz

from app.core.identifiers import luhn_valid, with_luhn

MRN_SERIAL_START = 1_000_000  # seven-digit serials, so every MRN has eight digits
MRN_LENGTH = 8
SEXES = ("female", "male", "other", "unknown")  # FHIR AdministrativeGender
DEFAULT_PHONE_REGION = "GB"


def make_mrn(serial: int) -> str:
    return with_luhn(serial)


def mrn_problem(value: str) -> str | None:
    """Why `value` is not an MRN we issue, or None. Checked on every entry, so a mistyped
    digit is caught before it finds the wrong patient."""
    value = value.strip()
    if not value.isdigit():
        return "An MRN has digits only."
    if len(value) != MRN_LENGTH:
        return "An MRN has 8 digits."
    if not luhn_valid(value):
        return "That MRN's check digit is wrong: re-read the number."
    return None


def display_name(family: str, given: str) -> str:
    return f"{family.upper()}, {given}"


# --- normalised names ------------------------------------------------------------------------

# Letters that Unicode does not decompose into a base letter plus accents, but that a clerk
# types without the stroke on a keyboard that lacks them ("Łukasiewicz" as "lukasiewicz").
_FOLD = str.maketrans({
    "ł": "l", "ø": "o", "đ": "d", "ð": "d", "þ": "th", "æ": "ae", "œ": "oe", "ı": "i", "ß": "ss",
    "ħ": "h", "ŧ": "t", "ŀ": "l",
})
_DROP = {"'", "’", "‘", "`", "´", "ʼ"}  # O'Brien is found as "obrien" and as "o'brien"


def normalise_name(value: str) -> str:
    """A name as the search columns hold it: lower-case, accents stripped, apostrophes dropped,
    any other punctuation a single space. Idempotent, so a normalised query matches it."""
    # Compatibility forms first (𝘼, ﬁ, ①), then case, then the letters with strokes; each step
    # can expose work for the next, hence decomposing again before dropping the accents.
    folded = unicodedata.normalize("NFKD", value)
    folded = unicodedata.normalize("NFKD", folded.casefold().translate(_FOLD))
    out: list[str] = []
    for ch in folded:
        if unicodedata.combining(ch) or ch in _DROP:
            continue
        out.append(ch if ch.isalnum() else " ")
    return " ".join("".join(out).casefold().translate(_FOLD).split())


_SOUNDEX = {c: d for d, letters in {"1": "bfpv", "2": "cgjkqsxz", "3": "dt", "4": "l",
                                      "5": "mn", "6": "r"}.items() for c in letters}


def name_key(value: str) -> str:
    """A Soundex-style key of a name's first word ("smith", "smyth", "smtih" → "s530"): the
    blocking key for the typo-tolerant search where trigram indexes are not available.
    Empty for a name without Latin letters (CJK names are matched by the other searches)."""
    words = normalise_name(value).split()
    letters = [c for c in (words[0] if words else "") if "a" <= c <= "z"]
    if not letters:
        return ""
    key, last = letters[0], _SOUNDEX.get(letters[0], "")
    for c in letters[1:]:
        code = _SOUNDEX.get(c, "")
        if code and code != last:
            key += code
        if c not in "hw":  # h and w do not separate equal codes; vowels do
            last = code
    return (key + "000")[:4]


# --- phones and national ids ------------------------------------------------------------------

_PHONE_PROBLEMS = {
    phonenumbers.ValidationResult.TOO_SHORT: "That phone number is too short.",
    phonenumbers.ValidationResult.TOO_LONG: "That phone number is too long.",
    phonenumbers.ValidationResult.INVALID_COUNTRY_CODE: "Unknown country code: start with + and the country code.",
    phonenumbers.ValidationResult.INVALID_LENGTH: "That phone number has the wrong number of digits.",
    phonenumbers.ValidationResult.IS_POSSIBLE_LOCAL_ONLY: "That phone number is too short: include the area code.",
}


def phone_problem(value: str, region: str) -> str | None:
    """Why `value` cannot be a phone number (in `region` unless it starts with +), or None.

    Possible, not "valid": libphonenumber's lists of allocated ranges lag new allocations, and a
    real number must never be refused at the desk; its length and country code are checked."""
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        return "That is not a phone number."
    reason = phonenumbers.is_possible_number_with_reason(number)
    if reason == phonenumbers.ValidationResult.IS_POSSIBLE:
        return None
    return _PHONE_PROBLEMS.get(reason, "That is not a phone number.")


def phone_e164(value: str | None, region: str) -> str | None:
    """The number in E.164 (+447700900123), or None when it is not a possible phone number."""
    if not value or phone_problem(value, region) is not None:
        return None
    number = phonenumbers.parse(value, region)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def national_id_module(fmt: str | None) -> ModuleType | None:
    """The python-stdnum module named by NATIONAL_ID_FORMAT ("gb.nhs", "us.ssn"), or None for
    free text. A name that is not a stdnum number format is a configuration error."""
    if not fmt:
        return None
    if not re.fullmatch(r"[a-z]{2,4}(\.[a-z_]+)+|[a-z]+", fmt):
        raise ValueError(f"NATIONAL_ID_FORMAT {fmt!r} is not a python-stdnum module name")
    module = importlib.import_module(f"stdnum.{fmt}")
    if not (hasattr(module, "is_valid") and hasattr(module, "compact")):
        raise ValueError(f"stdnum.{fmt} is not a number format")
    return module


def compact_national_id(value: str, fmt: str | None) -> str:
    """The stored form: the format's own compact form, or upper-case without separators."""
    module = national_id_module(fmt)
    if module is not None:
        return str(module.compact(value))
    return re.sub(r"[\s./-]", "", value).upper()


def national_id_problem(value: str, fmt: str | None) -> str | None:
    module = national_id_module(fmt)
    compact = compact_national_id(value, fmt)
    if module is not None:
        if not module.is_valid(value):
            name = (module.__doc__ or fmt or "national id").strip().splitlines()[0].rstrip(".")
            return f"Not a valid {name}: check the number."
        return None
    if not compact.isalnum() or len(compact) > 40:
        return "A national id has letters and digits only (at most 40)."
    return None


# --- what the search box holds ------------------------------------------------------------------

_ISO_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_LOCAL_DATE = re.compile(r"^(\d{1,2})[./-](\d{1,2})[./-](\d{4})$")
_NUMBERISH = re.compile(r"^\+?[\d\s().-]+$")
DATE_FORMS = ("YYYY-MM-DD", "DD/MM/YYYY", "DD.MM.YYYY", "DD-MM-YYYY")


def parse_date(token: str, order: str = "DMY") -> date | None:
    """A date typed in the search box: ISO, or day/month/year (month/day/year when the
    hospital's order is "MDY") with /, . or - and a four-digit year. None if `token` is not
    date-shaped; ValueError if it is but names no real day (31/02/1980)."""
    if m := _ISO_DATE.match(token):
        y, mo, d = (int(g) for g in m.groups())
    elif m := _LOCAL_DATE.match(token):
        a, b, y = (int(g) for g in m.groups())
        d, mo = (b, a) if order == "MDY" else (a, b)
    else:
        return None
    return date(y, mo, d)


@dataclass(frozen=True)
class NameForm:
    """One reading of the name typed: a family-name prefix, and a given-name prefix or None."""

    family: str
    given: str | None = None


@dataclass(frozen=True)
class SearchQuery:
    """What the clerk typed, understood. `kind` picks the search:

    empty · mrn · national_id · phone · number (national id or phone: digits that could be
    either) · name · name_dob · dob. `problem` is set when the input cannot be searched as it
    stands (a wrong check digit, a date that does not exist): it is answered before any query.
    """

    text: str
    kind: str
    problem: str | None = None
    mrn: str | None = None
    national_id: str | None = None
    phone_e164: str | None = None
    phone: str | None = None  # as typed, for the registration form
    birth_date: date | None = None
    names: tuple[NameForm, ...] = ()
    family_typed: str = ""  # the name parts as typed, for the registration form
    given_typed: str = ""
    tokens: tuple[str, ...] = field(default=())  # the normalised name words

    def prefill(self) -> dict[str, str]:
        """Registration form values taken from the search, when nothing matched."""
        values = {
            "family_name": self.family_typed, "given_names": self.given_typed,
            "birth_date": self.birth_date.isoformat() if self.birth_date else "",
            "phone": self.phone or "", "national_id": self.national_id or "",
        }
        return {k: v for k, v in values.items() if v}


def _name_forms(words: list[str], comma: tuple[str, str] | None) -> tuple[NameForm, ...]:
    """Every reading of the words the search tries: "family, given" is unambiguous; without a
    comma, one word is a family-name prefix, and several are tried as the whole family name,
    as "given … family" and as "family given …"."""
    if comma is not None:
        family, given = (normalise_name(part) for part in comma)
        return (NameForm(family, given or None),) if family else ((NameForm(given),) if given else ())
    if not words:
        return ()
    if len(words) == 1:
        return (NameForm(words[0]),)
    forms = [NameForm(" ".join(words)), NameForm(words[-1], " ".join(words[:-1])),
             NameForm(words[0], " ".join(words[1:]))]
    return tuple(dict.fromkeys(forms))


def parse_search(
    text: str, *, phone_region: str = DEFAULT_PHONE_REGION, national_id_format: str | None = None,
    date_order: str = "DMY",
) -> SearchQuery:
    """Understand a reception search. The order matters, and is documented in docs:

    1. eight digits (spaces allowed) → an MRN, whose check digit is checked first;
    2. a valid national id in the configured format → national id;
    3. otherwise digits (with + ( ) - . and spaces) → a phone number and/or a free-text
       national id, searched together;
    4. one word mixing letters and digits (AB123456C) → national id (free-text format);
    5. words, and at most one date (YYYY-MM-DD or DD/MM/YYYY): name, name + date of birth, or
       date of birth alone.
    """
    q = " ".join(text.split())
    if not q:
        return SearchQuery(text="", kind="empty")
    digits = re.sub(r"\s", "", q)
    if digits.isdigit() and len(digits) == MRN_LENGTH:
        return SearchQuery(text=q, kind="mrn", mrn=digits, problem=mrn_problem(digits))
    try:
        whole_date = parse_date(q, date_order)
    except ValueError:
        return SearchQuery(text=q, kind="dob", problem=f"No such date: {q}.")
    if whole_date is not None:
        return SearchQuery(text=q, kind="dob", birth_date=whole_date)
    module = national_id_module(national_id_format)
    if module is not None and module.is_valid(q):
        return SearchQuery(text=q, kind="national_id", national_id=str(module.compact(q)))
    if _NUMBERISH.match(q) and sum(c.isdigit() for c in q) >= 3:
        e164 = phone_e164(q, phone_region)
        plain = re.sub(r"\D", "", q)
        nid = plain if module is None and not q.startswith("+") else None
        kind = "number" if e164 and nid else "phone" if e164 else "national_id"
        if kind == "national_id" and nid is None:
            return SearchQuery(text=q, kind="national_id", problem="Not a phone number or a "
                               "national id: check the digits.")
        return SearchQuery(text=q, kind=kind, phone_e164=e164, phone=q if e164 else None,
                           national_id=nid)
    if module is None and " " not in q and "," not in q and any(c.isdigit() for c in q) and any(
            c.isalpha() for c in q):
        return SearchQuery(text=q, kind="national_id", national_id=compact_national_id(q, None))

    birth_date: date | None = None
    words: list[str] = []
    for word in q.replace(",", " , ").split():
        try:
            when = parse_date(word, date_order)
        except ValueError:
            return SearchQuery(text=q, kind="name_dob", problem=f"No such date: {word}.")
        if when is not None:
            birth_date = when
        elif word == "," or any(c.isalpha() for c in word):
            words.append(word)
    typed = " ".join(words)
    comma: tuple[str, str] | None = None
    if "," in typed:
        family_part, _, given_part = typed.partition(",")
        comma = (family_part.strip(), given_part.replace(",", " ").strip())
        family_typed, given_typed = comma
    else:
        parts = typed.split()
        family_typed = parts[-1] if parts else ""
        given_typed = " ".join(parts[:-1])
    tokens = normalise_name(typed).split()
    names = _name_forms(tokens, comma)
    if not names:
        if birth_date is None:
            return SearchQuery(text=q, kind="name", problem="Type a name, an MRN, a phone number "
                               "or a national id.")
        return SearchQuery(text=q, kind="dob", birth_date=birth_date)
    return SearchQuery(
        text=q, kind="name_dob" if birth_date else "name", birth_date=birth_date, names=names,
        family_typed=family_typed, given_typed=given_typed, tokens=tuple(tokens),
    )


def name_similarity(tokens: tuple[str, ...] | list[str], family_norm: str, given_norm: str) -> float:
    """How close a typed name is to a patient's (0..100, normalised names). One word is compared
    with the family name (and each of its words); several words with the whole name in any
    order, so "jon smtih" is close to SMITH, John."""
    if not tokens:
        return 0.0
    if len(tokens) == 1:
        word = tokens[0]
        return max([fuzz.ratio(word, family_norm)] + [fuzz.ratio(word, w) for w in family_norm.split()])
    return float(fuzz.token_sort_ratio(" ".join(tokens), f"{family_norm} {given_norm}"))
