"""The stock pages: overview, goods received, transfers, adjustments, counts, reorder levels,
expiring list and reconciliation, with 422s beside the fields and witnesses for CDs."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from app.domain.dispensary import stock
from app.domain.dispensary.inventory_models import ReorderLevel, StockCount
from app.domain.dispensary.models import StockBatch, StockLocation
from tests import factories
from tests.conftest import PASSWORD
from tests.domain.dispensary.inventory_support import ledger_sum


def _future(days: int = 300) -> str:
    return (stock.today() + timedelta(days=days)).isoformat()


def test_overview_shows_stock_per_location_reorder_status_and_searches(
        client: Any, db_session: Any, login_as: Any) -> None:
    amox = factories.drug(db_session)
    para = factories.drug(db_session, "Paracetamol 500 MG Oral Tablet", generic_name="paracetamol")
    factories.batch(db_session, amox, 5, expiry=stock.today() + timedelta(days=20))
    factories.batch(db_session, para, 300)
    main = stock.main_location(db_session)
    db_session.add(ReorderLevel(drug_id=amox.id, location_id=main.id, minimum=10, reorder_quantity=100))
    db_session.commit()
    login_as("pharmacist")
    page = client.get("/pharmacy/stock").get_data(as_text=True)
    assert "Amoxicillin 500 MG Oral Tablet" in page and "Paracetamol 500 MG Oral Tablet" in page
    assert "Below level" in page
    found = client.get_htmx("/pharmacy/stock?q=parac").get_data(as_text=True)
    assert found.lstrip().startswith('<div id="stock-table">')
    assert "Paracetamol" in found and "Amoxicillin" not in found


def test_stock_pages_are_for_pharmacy_staff(client: Any, db_session: Any, login_as: Any) -> None:
    login_as("nurse")
    assert client.get("/pharmacy/stock").status_code == 403
    assert client.get("/pharmacy/stock/receive").status_code == 403


def test_receiving_goods_books_stock_and_bad_lines_get_422_beside_the_field(
        client: Any, db_session: Any, login_as: Any) -> None:
    d = factories.drug(db_session)
    db_session.commit()
    login_as("pharmacist")
    assert client.get("/pharmacy/stock/receive").status_code == 200
    form = {"supplier": "Alliance", "delivery_reference": "DN-1", "lines-0-drug_id": str(d.id),
            "lines-0-batch_number": "LOT-77", "lines-0-expiry": (stock.today() - timedelta(days=1)).isoformat(),
            "lines-0-quantity": "40", "lines-0-unit_cost": "0.25"}
    bad = client.post_form("/pharmacy/stock/receive", form, htmx=True)
    assert bad.status_code == 422
    body = bad.get_data(as_text=True)
    assert 'id="lines-0-expiry-error"' in body and "already expired" in body
    assert db_session.scalar(select(StockBatch.id).where(StockBatch.drug_id == d.id)) is None

    bad_cost = client.post_form("/pharmacy/stock/receive", form | {"lines-0-expiry": _future(),
                                                                   "lines-0-unit_cost": "-1"}, htmx=True)
    assert bad_cost.status_code == 422 and 'id="lines-0-unit_cost-error"' in bad_cost.get_data(as_text=True)

    ok = client.post_form("/pharmacy/stock/receive", form | {"lines-0-expiry": _future()}, htmx=True)
    assert ok.status_code == 200 and ok.headers["HX-Redirect"].endswith("/pharmacy/stock/receive")
    batch = db_session.scalar(select(StockBatch).where(StockBatch.drug_id == d.id))
    assert (batch.batch_number, batch.quantity) == ("LOT-77", 40)
    page = client.get("/pharmacy/stock/receive").get_data(as_text=True)
    assert "DN-1" in page and "LOT-77" in page


def test_a_controlled_delivery_needs_a_witness_password(
        client: Any, db_session: Any, login_as: Any, make_user: Any) -> None:
    d = factories.drug(db_session, "Morphine 10 MG Oral Tablet", generic_name="morphine", controlled=True)
    witness = make_user("pharmacist")
    login_as("pharmacist")
    form = {"supplier": "CD Co", "delivery_reference": "CD-1", "lines-0-drug_id": str(d.id),
            "lines-0-batch_number": "M1", "lines-0-expiry": _future(), "lines-0-quantity": "10",
            "lines-0-unit_cost": "1"}
    missing = client.post_form("/pharmacy/stock/receive", form, htmx=True)
    assert missing.status_code == 422 and 'id="witness_username-error"' in missing.get_data(as_text=True)
    wrong = client.post_form("/pharmacy/stock/receive", form | {"witness_username": witness.username,
                                                               "witness_password": "nope"}, htmx=True)
    assert wrong.status_code == 422 and "Witness not confirmed" in wrong.get_data(as_text=True)
    ok = client.post_form("/pharmacy/stock/receive", form | {"witness_username": witness.username,
                                                            "witness_password": PASSWORD}, htmx=True)
    assert ok.status_code == 200, ok.get_data(as_text=True)
    assert db_session.scalar(select(StockBatch.quantity).where(StockBatch.drug_id == d.id)) == 10


def test_transfer_to_a_ward_and_short_stock_refused(client: Any, db_session: Any, login_as: Any) -> None:
    ward = factories.ward(db_session)
    d = factories.drug(db_session)
    b = factories.batch(db_session, d, 12)
    db_session.commit()
    login_as("pharmacist")
    page = client.get("/pharmacy/stock/transfer").get_data(as_text=True)
    assert ward.name in page and d.name in page
    short = client.post_form("/pharmacy/stock/transfer", {"drug_id": d.id, "ward_id": ward.id,
                                                          "quantity": "13"}, htmx=True)
    assert short.status_code == 422 and "Only 12 tablet" in short.get_data(as_text=True)
    ok = client.post_form("/pharmacy/stock/transfer", {"drug_id": d.id, "ward_id": ward.id,
                                                       "quantity": "5"}, htmx=True)
    assert ok.status_code == 200 and "HX-Redirect" in ok.headers
    cupboard = db_session.scalar(select(StockLocation).where(StockLocation.ward_id == ward.id))
    assert db_session.scalar(select(StockBatch.quantity).where(StockBatch.location_id == cupboard.id)) == 5
    assert db_session.scalar(select(StockBatch.quantity).where(StockBatch.id == b.id)) == 7
    overview = client.get("/pharmacy/stock").get_data(as_text=True)
    assert cupboard.name in overview


def test_adjusting_a_batch_with_a_reason_and_refusals_beside_fields(
        client: Any, db_session: Any, login_as: Any) -> None:
    b = factories.batch(db_session, factories.drug(db_session), 10)
    db_session.commit()
    login_as("pharmacist")
    url = f"/pharmacy/stock/batches/{b.id}/adjust"
    assert client.get(url).status_code == 200
    other = client.post_form(url, {"quantity": "-1", "reason": "other", "note": ""}, htmx=True)
    assert other.status_code == 422 and 'id="note-error"' in other.get_data(as_text=True)
    below = client.post_form(url, {"quantity": "-11", "reason": "breakage"}, htmx=True)
    assert below.status_code == 422 and "holds only 10" in below.get_data(as_text=True)
    ok = client.post_form(url, {"quantity": "-2", "reason": "breakage", "note": "dropped"})
    assert ok.status_code == 303
    ledger_page = client.get(f"/pharmacy/stock/batches/{b.id}").get_data(as_text=True)
    assert "Breakage: dropped" in ledger_page and 'id="batch-quantity">8' in ledger_page


def test_a_stock_count_from_open_to_close_posts_the_variance(
        client: Any, db_session: Any, login_as: Any) -> None:
    b = factories.batch(db_session, factories.drug(db_session), 10, batch_number="CNT")
    main = stock.main_location(db_session)
    db_session.commit()
    login_as("pharmacist")
    opened = client.post_form("/pharmacy/stock/counts", {"location_id": main.id})
    assert opened.status_code == 303
    count = db_session.scalar(select(StockCount).order_by(StockCount.id.desc()))
    again = client.post_form("/pharmacy/stock/counts", {"location_id": main.id}, htmx=True)
    assert again.status_code == 422 and "already open" in again.get_data(as_text=True)
    line = next(x for x in count.lines if x.batch_id == b.id)
    others = {f"line-{x.id}": str(x.expected) for x in count.lines if x.id != line.id}
    url = f"/pharmacy/stock/counts/{count.id}"
    bad = client.post_form(url, others | {f"line-{line.id}": "-3", "action": "save"}, htmx=True)
    assert bad.status_code == 422 and f'id="line-{line.id}-error"' in bad.get_data(as_text=True)
    no_reason = client.post_form(url, others | {f"line-{line.id}": "9", "action": "close"}, htmx=True)
    assert no_reason.status_code == 422 and 'id="reason-error"' in no_reason.get_data(as_text=True)
    closed = client.post_form(url, others | {f"line-{line.id}": "9", "action": "close",
                                             "reason": "one missing"})
    assert closed.status_code == 303
    assert db_session.scalar(select(StockBatch.quantity).where(StockBatch.id == b.id)) == 9
    assert ledger_sum(db_session, b.id) == 9
    page = client.get(url).get_data(as_text=True)
    assert "closed" in page and "-1" in page
    report = client.get("/pharmacy/stock/reconcile").get_data(as_text=True)
    assert "adds up to its quantity" in report


def test_reorder_level_edit_and_expiring_list(client: Any, db_session: Any, login_as: Any) -> None:
    d = factories.drug(db_session)
    factories.batch(db_session, d, 10, expiry=stock.today() + timedelta(days=10), batch_number="SOON")
    factories.batch(db_session, d, 10, expiry=stock.today() + timedelta(days=200), batch_number="LATER")
    main = stock.main_location(db_session)
    db_session.commit()
    login_as("pharmacist")
    url = f"/pharmacy/stock/drugs/{d.id}/reorder"
    bad = client.post_form(url, {"location_id": main.id, "minimum": "10", "reorder_quantity": ""}, htmx=True)
    assert bad.status_code == 422 and 'id="reorder_quantity-error"' in bad.get_data(as_text=True)
    assert client.post_form(url, {"location_id": main.id, "minimum": "50", "reorder_quantity": "200"}).status_code == 303
    assert db_session.scalar(select(ReorderLevel.minimum).where(ReorderLevel.drug_id == d.id)) == 50
    assert "reorder below 50, order 200" in client.get(f"/pharmacy/stock/drugs/{d.id}").get_data(as_text=True)
    expiring = client.get("/pharmacy/stock/expiring").get_data(as_text=True)
    assert "SOON" in expiring and "LATER" not in expiring


def test_counts_list_and_reconciliation_report_name_what_disagrees(
        client: Any, db_session: Any, login_as: Any) -> None:
    from sqlalchemy import update

    b = factories.batch(db_session, factories.drug(db_session), 10, batch_number="ODD-ONE")
    db_session.execute(update(StockBatch).where(StockBatch.id == b.id).values(quantity=11))
    db_session.commit()
    login_as("pharmacist")
    assert "Start a count" in client.get("/pharmacy/stock/counts").get_data(as_text=True)
    report = client.get("/pharmacy/stock/reconcile").get_data(as_text=True)
    assert "1 batch(es) do not agree" in report and "ODD-ONE" in report
