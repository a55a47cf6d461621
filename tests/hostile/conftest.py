"""The hostile suite's world: least-privilege roles, a real worker, fixture rows.

These tests talk to the database on their own psycopg connections, never
through Django's test transactions: the real worker and the callers are
other sessions, which must see committed rows. The world is built once per
module and its rows are emptied when the module ends.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from typing import Any

import pytest

from django_pgflow.definitions.sync import sync_flows

from ..roles import Roles, least_privilege_roles
from .session import Hostile


@pytest.fixture(scope="module")
def hostile(django_db_setup: None, django_db_blocker: Any) -> Iterator[Hostile]:
    roles: Generator[Roles, None, None] = least_privilege_roles("hostile", django_db_blocker)
    made = next(roles)
    with django_db_blocker.unblock():
        sync_flows()  # as the owner, as migrate does: the web role only reads definitions
    session = Hostile(made, django_db_blocker)
    try:
        yield session
    finally:
        session.close()
        roles.close()  # drops the roles
