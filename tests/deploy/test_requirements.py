"""CI runs the topology test with REQUIRE_SERVICES=1: a missing nginx, PostgreSQL or Redis must
fail it there, not skip it."""

from __future__ import annotations

import pytest

from tests.deploy import conftest, procs

pytestmark = pytest.mark.deploy


@pytest.fixture()
def no_nginx(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(procs, "nginx_binary", lambda: None)


def test_missing_nginx_fails_when_services_are_required(no_nginx: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REQUIRE_SERVICES", "1")
    with pytest.raises(pytest.fail.Exception, match=r"nginx.*REQUIRE_SERVICES=1"):
        conftest.require_tools()


def test_missing_nginx_skips_otherwise(no_nginx: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REQUIRE_SERVICES", raising=False)
    with pytest.raises(pytest.skip.Exception, match="nginx"):
        conftest.require_tools()


def test_missing_postgres_and_redis_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TEST_DATABASE_URL", raising=False)
    monkeypatch.delenv("TEST_REDIS_URL", raising=False)
    monkeypatch.setattr(procs, "postgres_bin", lambda: None)
    monkeypatch.setattr(conftest.shutil, "which", lambda name: None)
    missing = " ".join(conftest.missing_tools())
    assert "PostgreSQL" in missing and "Redis" in missing and "openssl" in missing
