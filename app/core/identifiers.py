"""Gapless counters for identifiers shown to people (MRNs, invoice numbers), and check digits."""

from __future__ import annotations

from sqlalchemy import BigInteger, String, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Mapped, mapped_column
from stdnum import luhn

from app.core.db import Base, DbSession


class IdentifierCounter(Base):
    __tablename__ = "identifier_counter"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    next_value: Mapped[int] = mapped_column(BigInteger)


def next_value(session: DbSession, name: str, start: int = 1) -> int:
    """Take the next value of counter `name`. The UPDATE's row lock (PostgreSQL) or the write
    lock (SQLite, BEGIN IMMEDIATE) makes concurrent callers queue; a rollback returns the value.
    One statement, because every dispensing and registration takes a number."""
    taken = session.execute(
        update(IdentifierCounter)
        .where(IdentifierCounter.name == name)
        .values(next_value=IdentifierCounter.next_value + 1)
        .returning(IdentifierCounter.next_value)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()
    if taken is not None:
        return int(taken) - 1
    # First use of this counter. Two first callers may race to create it: the loser's insert
    # does nothing (PostgreSQL) and it takes the next value from the winner's row.
    if session.get_bind().dialect.name == "postgresql":
        session.execute(pg_insert(IdentifierCounter).values(name=name, next_value=start)
                        .on_conflict_do_nothing())
    else:  # SQLite: BEGIN IMMEDIATE already serialises writers
        session.add(IdentifierCounter(name=name, next_value=start))
        session.flush()
    return next_value(session, name, start)


def with_luhn(number: int | str) -> str:
    digits = str(number)
    return digits + luhn.calc_check_digit(digits)


def luhn_valid(value: str) -> bool:
    return value.isdigit() and len(value) >= 2 and luhn.is_valid(value)
