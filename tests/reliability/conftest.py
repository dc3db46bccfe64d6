"""Servers for the reliability tests.

PostgreSQL: tests that only need a database make their own on the TEST_DATABASE_URL server when
there is one, else on a throwaway cluster started here; the restart test always uses the
throwaway cluster. Redis: always a throwaway redis-server per test, so a test may stop it and
so that no worker started here sees jobs the rest of the suite left on the shared Redis.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import create_database
from tests.reliability.servers import PostgresServer, RedisServer, server_base


@pytest.fixture(scope="package")
def own_postgres() -> Iterator[PostgresServer]:
    server = PostgresServer()
    try:
        server.start()
        yield server
    finally:
        server.stop()


class Databases:
    """Fresh databases on a PostgreSQL server none of these tests restarts."""

    def __init__(self, base: str, prefix: str) -> None:
        self.base = base
        self.prefix = prefix

    def create(self, name: str) -> str:
        return create_database(self.base, f"{self.prefix}{name}")


@pytest.fixture(scope="package")
def databases(request: pytest.FixtureRequest) -> Databases:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        base, name = server_base(url)
        return Databases(base, f"{name}_reliability_")
    own: PostgresServer = request.getfixturevalue("own_postgres")
    return Databases(own.base_url(), "reliability_")


@pytest.fixture()
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    try:
        server.start()
        yield server
    finally:
        server.stop()
