"""First-install commands for IT staff."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from app.domain.identity.models import User
from tests.conftest import login


def test_create_admin_then_sign_in(app: Any, client: Any, db_session: Any) -> None:
    runner = app.test_cli_runner()
    weak = runner.invoke(args=["users", "create-admin", "--username", "it.lead", "--full-name", "IT Lead",
                               "--password", "short"])
    assert weak.exit_code != 0 and "at least 10" in weak.output
    ok = runner.invoke(args=["users", "create-admin", "--username", "it.lead", "--full-name", "IT Lead",
                             "--password", "a long first password"])
    assert ok.exit_code == 0, ok.output
    user = db_session.scalar(select(User).where(User.username == "it.lead"))
    assert user.role_keys == {"admin"} and not user.must_change_password
    again = runner.invoke(args=["users", "create-admin", "--username", "it.lead", "--full-name", "IT Lead",
                                "--password", "a long first password"])
    assert again.exit_code != 0 and "taken" in again.output
    assert login(client, "it.lead", "a long first password").status_code == 303
    assert client.get("/admin/users").status_code == 200


def test_import_formulary_seeds_every_drug_and_a_rerun_changes_nothing(app: Any, db_session: Any) -> None:
    from app.domain.formulary.models import Drug

    runner = app.test_cli_runner()
    first = runner.invoke(args=["pharmacy", "import-formulary"])
    assert first.exit_code == 0, first.output
    assert "115 row(s): 112 created" in first.output and "3 repeated" in first.output
    assert db_session.scalar(select(Drug).where(Drug.code == "308192")).generic_name == "amoxicillin"
    again = runner.invoke(args=["pharmacy", "import-formulary"])
    assert again.exit_code == 0 and "0 created, 0 updated, 112 unchanged" in again.output
    missing = runner.invoke(args=["pharmacy", "import-formulary", "--path", "/nonexistent.csv"])
    assert missing.exit_code != 0
