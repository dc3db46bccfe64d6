"""Building blocks for tests: wards with beds, patients, admissions."""

from __future__ import annotations

from datetime import date
from itertools import count
from typing import Any

from app.core.security import SYSTEM
from app.domain.admissions.services import admit_to_bed
from app.domain.facilities.models import Bed, Room, Ward
from app.domain.patients import services as patients
from app.domain.patients.models import Patient

_seq = count(1)


def ward(session: Any, beds: int = 2, name: str | None = None) -> Ward:
    n = next(_seq)
    w = Ward(code=f"W{n}", name=name or f"Ward {n}")
    room = Room(code="R1")
    room.beds = [Bed(code=chr(65 + i)) for i in range(beds)]
    w.rooms.append(room)
    session.add(w)
    session.flush()
    return w


def patient(session: Any, family: str = "Nguyễn", given: str = "Thị Mai", **kw: Any) -> Patient:
    data = patients.Demographics(
        family_name=family, given_names=given, birth_date=kw.pop("birth_date", date(1980, 5, 17)),
        sex=kw.pop("sex", "female"), **kw,
    )
    # Tests build look-alike patients on purpose; the duplicate check is tested on its own.
    return patients.register_patient(session, SYSTEM, data, check_duplicates=False)


def admitted(session: Any, w: Ward, p: Patient | None = None) -> Patient:
    p = p or patient(session)
    bed = next(b for r in w.rooms for b in r.beds if b.state == "available")
    admit_to_bed(session, SYSTEM, p.id, bed.id)
    return p
