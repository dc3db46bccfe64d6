"""Pure rules of the shift handover: what a field may hold, who may accept, when it may close."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from app.core.errors import DomainError
from app.domain.handover.models import SBAR_FIELDS

FIELD_LABELS = {
    "situation": "Situation",
    "background": "Background",
    "assessment": "Assessment",
    "recommendation": "Recommendation",
}
MAX_TEXT = 4000
MAX_SHIFT = 20  # HandoverSession.shift is String(20)
# Suggestions only: wards name their shifts differently.
SHIFT_SUGGESTIONS = ("day → night", "night → day", "early → late", "late → night", "night → early")

# Control characters other than newline and tab: a pasted NUL would be refused by PostgreSQL
# (a 500), and the others are invisible noise on a printed sheet.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def check_field(field: str) -> str:
    if field not in SBAR_FIELDS:
        raise DomainError("Choose one of Situation, Background, Assessment or Recommendation.",
                          field="field")
    return field


def normalise_text(text: str) -> str:
    """What is stored for a typed SBAR field: Unicode NFC, newlines as \\n, no control
    characters, no trailing whitespace at the end of the text."""
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    return _CONTROL.sub("", text).rstrip()


def check_text(text: str) -> str:
    cleaned = normalise_text(text)
    if len(cleaned) > MAX_TEXT:
        raise DomainError(f"Keep this field under {MAX_TEXT} characters "
                          f"(it has {len(cleaned)}).", field="text")
    return cleaned


def check_shift(shift: str) -> str:
    cleaned = " ".join(normalise_text(shift or "").split())
    if not cleaned:
        raise DomainError("Say which shift hands over (for example \"day → night\").", field="shift")
    if len(cleaned) > MAX_SHIFT:
        raise DomainError(f"Name the shift in at most {MAX_SHIFT} characters.", field="shift")
    return cleaned


def acceptance_refusal(actor_id: int | None, outgoing_nurse_id: int | None,
                       accepted_by_id: int | None, session_open: bool) -> str | None:
    """Why `actor_id` may not accept an entry, or None when they may. The nurse handing the
    patient over cannot also be the one who takes them on."""
    if not session_open:
        return "This handover is closed."
    if accepted_by_id is not None:
        return "This patient has already been accepted."
    if actor_id is None:
        return "Only a nurse can accept a handover."
    if outgoing_nurse_id is not None and actor_id == outgoing_nurse_id:
        return "You are handing this patient over; the incoming nurse accepts them."
    return None


def unaccepted(accepted_by_ids: Iterable[int | None]) -> int:
    return sum(1 for a in accepted_by_ids if a is None)
