"""Handover pages: start, edit with version checks (409 shows the other edit), accept, close,
print. Every refusal is a message beside its field, never a stack trace."""

from __future__ import annotations

import html
from typing import Any

from sqlalchemy import select

from app.core import audit
from app.domain.handover import services as handover
from tests import factories, pdf_tools
from tests.conftest import login
from tests.domain.handover.conftest import ward_setup


def _started(db_session: Any) -> Any:
    s = ward_setup(db_session)
    s.session = handover.start_handover(db_session, s.outgoing, s.ward.id, "day → night")
    db_session.commit()
    return s


def _switch(client: Any, user: Any) -> None:
    """Another nurse at the same workstation: sign out, then in."""
    client.post_form("/logout")
    assert login(client, user.username).status_code == 303


def _body(response: Any) -> str:
    return html.unescape(response.get_data(as_text=True))


def test_nav_and_start_a_handover(client: Any, db_session: Any) -> None:
    s = ward_setup(db_session)
    db_session.commit()
    login(client, s.outgoing.username)
    listing = _body(client.get("/wards/handover"))
    assert "Handover" in listing and s.ward.name in listing
    home = client.get(f"/wards/{s.ward.id}/handover")
    assert home.status_code == 200 and "Start handover" in _body(home)
    bad = client.post_form(f"/wards/{s.ward.id}/handover", {"shift": "   "}, htmx=True)
    assert bad.status_code == 422 and "Say which shift hands over" in _body(bad)
    ok = client.post_form(f"/wards/{s.ward.id}/handover", {"shift": "day → night"}, htmx=True)
    assert ok.status_code == 200 and "/wards/handover/" in ok.headers["HX-Redirect"]
    page = _body(client.get(ok.headers["HX-Redirect"]))
    for p in s.patients:
        assert p.name in page
    assert page.count('name="text"') == 4 * len(s.patients)
    assert "No laboratory module yet" in page and "Community-acquired pneumonia" in page
    assert "js/handover.js" in page and 'data-handover-session="' in page
    # Starting again joins the open one.
    again = client.post_form(f"/wards/{s.ward.id}/handover", {"shift": "x"}, htmx=True)
    assert again.headers["HX-Redirect"] == ok.headers["HX-Redirect"]


def test_save_then_stale_save_shows_the_other_edit(client: Any, db_session: Any) -> None:
    s = _started(db_session)
    entry = s.session.entries[0]
    url = f"/wards/handover/entries/{entry.id}/fields/assessment"
    login(client, s.outgoing.username)
    saved = client.post_form(url, {"text": "Settled.", "version": "0"}, htmx=True)
    assert saved.status_code == 200
    body = _body(saved)
    assert f'id="hf-{entry.id}-assessment"' in body and 'name="version" value="1"' in body
    assert "Saved by Nora Outgoing" in body
    _switch(client, s.incoming)
    stale = client.post_form(url, {"text": "Febrile at 22:00.", "version": "0"}, htmx=True)
    assert stale.status_code == 409
    body = _body(stale)
    assert "Nora Outgoing saved this while you were typing." in body
    assert "Settled." in body and ">Febrile at 22:00.</textarea>" in body  # both texts shown
    assert 'name="version" value="1"' in body  # saving the merge again is now on the current version
    merged = client.post_form(url, {"text": "Settled. Febrile at 22:00.", "version": "1"}, htmx=True)
    assert merged.status_code == 200 and 'name="version" value="2"' in _body(merged)


def test_bad_field_input(client: Any, db_session: Any) -> None:
    s = _started(db_session)
    entry = s.session.entries[0]
    login(client, s.outgoing.username)
    url = f"/wards/handover/entries/{entry.id}/fields/situation"
    long = client.post_form(url, {"text": "x" * 4001, "version": "0"}, htmx=True)
    assert long.status_code == 422 and "under 4000 characters" in _body(long)
    junk = client.post_form(url, {"text": "x", "version": "abc"}, htmx=True)
    assert junk.status_code == 409 and "out of date" in _body(junk)
    assert client.post_form(f"/wards/handover/entries/{entry.id}/fields/plan",
                            {"text": "x", "version": "0"}, htmx=True).status_code == 404


def test_accept_and_close(client: Any, db_session: Any) -> None:
    s = _started(db_session)
    first, second = s.session.entries
    login(client, s.outgoing.username)
    own = client.post_form(f"/wards/handover/entries/{first.id}/accept", htmx=True)
    assert own.status_code == 422 and "the incoming nurse accepts them" in _body(own)
    _switch(client, s.incoming)
    ok = client.post_form(f"/wards/handover/entries/{first.id}/accept", htmx=True)
    assert ok.status_code == 200, _body(ok)
    assert "Accepted" in _body(ok) and "Ines Incoming" in _body(ok)
    twice = client.post_form(f"/wards/handover/entries/{first.id}/accept", htmx=True)
    assert twice.status_code == 409 and "already been accepted" in _body(twice)
    refused = client.post_form(f"/wards/handover/{s.session.id}/close", htmx=True)
    assert refused.status_code == 422
    assert f"Not yet accepted: {second.patient.name}" in _body(refused)
    closed = client.post_form(f"/wards/handover/{s.session.id}/close", {"with_unaccepted": "1"}, htmx=True)
    assert closed.status_code == 200 and closed.headers["HX-Redirect"] == f"/wards/{s.ward.id}/handover"
    home = _body(client.get(f"/wards/{s.ward.id}/handover"))
    assert "Past handovers" in home and "day → night" in home and "Start handover" in home


def test_printable_sheet(client: Any, db_session: Any) -> None:
    s = _started(db_session)
    entry = s.session.entries[0]
    handover.edit_field(db_session, s.outgoing, entry.id, "recommendation", "Repeat lactate at 06:00.", 0)
    handover.accept_entry(db_session, s.incoming, entry.id)
    db_session.commit()
    login(client, s.charge.username)
    response = client.get(f"/wards/handover/{s.session.id}/handover.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    text = pdf_tools.text(response.data)
    assert entry.patient.name in text and "Repeat lactate at 06:00." in text
    assert "Accepted by Ines Incoming" in text and "No laboratory module yet" in text
    assert "Printed by Carl Charge" in text
    printed = db_session.scalars(select(audit.AuditEvent).where(
        audit.AuditEvent.action == "print.handover")).all()
    assert len(printed) == 1 and printed[0].actor_id == s.charge.id


def test_out_of_scope_nurse_and_other_roles_are_refused(client: Any, db_session: Any, make_user: Any) -> None:
    s = _started(db_session)
    elsewhere = make_user("nurse", ward_ids=[factories.ward(db_session).id])
    login(client, elsewhere.username)
    assert client.get(f"/wards/handover/{s.session.id}").status_code == 403
    assert client.post_form(f"/wards/handover/entries/{s.session.entries[0].id}/fields/situation",
                            {"text": "x", "version": "0"}, htmx=True).status_code == 403
    assert client.get(f"/wards/{s.ward.id}/handover").status_code == 403
    doctor = make_user("doctor")
    _switch(client, doctor)
    assert client.get(f"/wards/handover/{s.session.id}").status_code == 403
    assert "/wards/handover" not in _body(client.get("/"))  # no nav item


def test_a_field_is_fetched_over_http_within_scope_only(client: Any, db_session: Any, make_user: Any) -> None:
    s = _started(db_session)
    entry = s.session.entries[0]
    handover.edit_field(db_session, s.outgoing, entry.id, "situation", "Settled; pain controlled.", 0)
    db_session.commit()
    login(client, s.incoming.username)
    reply = client.get_htmx(f"/wards/handover/entries/{entry.id}/fields/situation/current")
    body = _body(reply)
    assert reply.status_code == 200 and body.lstrip().startswith(f'<form id="hf-{entry.id}-situation"')
    assert "Settled; pain controlled." in body and 'data-version="1"' in body
    versions = client.get(f"/wards/handover/{s.session.id}/versions").get_json()
    assert versions[str(entry.id)]["situation"] == 1 and versions[str(entry.id)]["background"] == 0
    # A nurse taken off the ward (or of another ward) gets nothing, whatever her socket heard.
    outsider = make_user("nurse", [factories.ward(db_session).id])
    db_session.commit()
    _switch(client, outsider)
    assert client.get_htmx(f"/wards/handover/entries/{entry.id}/fields/situation/current").status_code == 403
    assert client.get(f"/wards/handover/{s.session.id}/versions").status_code == 403


def test_refresh_of_a_closed_handover_is_a_409_beside_the_button(client: Any, db_session: Any) -> None:
    s = _started(db_session)
    for e in s.session.entries:
        handover.accept_entry(db_session, s.incoming, e.id)
    handover.close_handover(db_session, s.incoming, s.session.id)
    db_session.commit()
    login(client, s.outgoing.username)
    reply = client.post_form(f"/wards/handover/{s.session.id}/refresh", {}, htmx=True)
    body = _body(reply)
    assert reply.status_code == 409 and 'id="handover-refresh-error"' in body and "closed" in body
    assert "<html" not in body


def test_a_blank_shift_is_placed_beside_the_field(client: Any, db_session: Any) -> None:
    s = ward_setup(db_session)
    db_session.commit()
    login(client, s.outgoing.username)
    reply = client.post_form(f"/wards/{s.ward.id}/handover", {"shift": "  "}, htmx=True)
    body = _body(reply)
    assert reply.status_code == 422 and 'id="shift-error"' in body and "Say which shift" in body


def test_the_sheet_shows_earlier_facts_after_a_refresh(client: Any, db_session: Any) -> None:
    s = _started(db_session)
    handover.refresh_facts(db_session, s.outgoing, s.session.id)
    db_session.commit()
    login(client, s.outgoing.username)
    body = _body(client.get(f"/wards/handover/{s.session.id}"))
    assert "Facts as of" in body and "Earlier facts" in body


def test_beds_are_named_by_room_and_bed_on_the_page_the_close_form_and_the_pdf(
        client: Any, db_session: Any) -> None:
    """Two rooms each have a bed A: "Bed A" alone would not say which patient is which."""
    from app.domain.facilities.models import Bed, Room

    s = ward_setup(db_session, beds=1, admitted=1)
    room = Room(code="R2", beds=[Bed(code="A")])
    s.ward.rooms.append(room)
    db_session.flush()
    second = factories.admitted(db_session, s.ward, factories.patient(db_session, family="Roomtwo"))
    db_session.commit()
    hs = handover.start_handover(db_session, s.outgoing, s.ward.id, "day → night")
    db_session.commit()
    login(client, s.outgoing.username)
    page = _body(client.get(f"/wards/handover/{hs.id}"))
    assert f"Bed R1-A · {s.patients[0].name}" in page and f"Bed R2-A · {second.name}" in page
    assert "Bed A ·" not in page
    refused = _body(client.post_form(f"/wards/handover/{hs.id}/close", htmx=True))
    assert "(bed R1-A)" in refused and "(bed R2-A)" in refused
    text = pdf_tools.text(client.get(f"/wards/handover/{hs.id}/handover.pdf").data)
    assert "Bed R1-A" in text and "Bed R2-A" in text and "Bed A " not in text
