"""Faults for integration tests, confined to the test session's own database and virtual host.

The PostgreSQL and RabbitMQ servers are shared with whatever else runs on the machine, so
nothing here restarts them. A server going away is played on what is the session's own:
its database refuses new connections (``ALLOW_CONNECTIONS false``, the error a server
that is starting or shutting down gives) and loses the ones it had; its virtual host
refuses its user (permissions cleared) and loses every connection.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from sqlalchemy.engine import make_url

from shared.messaging.grants import vhost_of
from tests.conftest import POSTGRES_ADMIN_URL


def _database(url: str) -> str:
    name = make_url(url).database
    assert name and name.startswith("werving_test_"), f"not a test database: {name}"
    return name


def _vhost(url: str) -> str:
    vhost = vhost_of(url)
    assert vhost.startswith("werving_test_"), f"not a test virtual host: {vhost}"
    return vhost


def terminate_backends(
    database_url: str,
    *,
    application_name: str | None = None,
    query: str | None = None,
    busy_only: bool = False,
) -> int:
    """End connections to the test database (``pg_terminate_backend``): all of them, or
    those whose ``application_name`` or last ``query`` is LIKE the pattern given, or only
    those in the middle of a statement or transaction; how many. Waits until each has
    gone."""
    sql = (
        "SELECT count(pg_terminate_backend(pid, 10000)) FROM pg_stat_activity"
        " WHERE datname = %s AND pid <> pg_backend_pid()"
    )
    params: list[str] = [_database(database_url)]
    if application_name is not None:
        sql += " AND application_name LIKE %s"
        params.append(application_name)
    if query is not None:
        sql += " AND query LIKE %s"
        params.append(query)
    if busy_only:
        sql += " AND state IN ('active', 'idle in transaction')"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        row = admin.execute(sql, params).fetchone()
    return int(row[0]) if row else 0


def backends(database_url: str, *, query: str = "%") -> list[int]:
    """The pids of the test database's connections whose last query is LIKE ``query``."""
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        return [
            int(pid)
            for (pid,) in admin.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND query LIKE %s",
                [_database(database_url), query],
            ).fetchall()
        ]


@contextmanager
def database_away(database_url: str) -> Iterator[None]:
    """The test database as a server that went down: every connection ended, new ones
    refused, until the block ends."""
    name = _database(database_url)
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        try:
            terminate_backends(database_url)
            yield
        finally:
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')


def rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)


def close_connections(broker_url: str) -> None:
    """Close every connection to the test virtual host (``close_all_connections -p``)."""
    rabbitmqctl("close_all_connections", "-p", _vhost(broker_url), "werving test: a fault")


@contextmanager
def broker_away(broker_url: str, user: str = "guest") -> Iterator[None]:
    """The test virtual host as a broker that went down: its connections closed, new ones
    refused (the user's permissions there cleared), until the block ends."""
    vhost = _vhost(broker_url)
    rabbitmqctl("clear_permissions", "-p", vhost, user)
    try:
        close_connections(broker_url)
        yield
    finally:
        rabbitmqctl("set_permissions", "-p", vhost, user, ".*", ".*", ".*")
