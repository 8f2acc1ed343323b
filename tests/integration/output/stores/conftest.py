"""One real server per artifact store for the whole session (tests/integration/output/stores/servers.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.output.stores.servers import Server, running


@pytest.fixture(scope="session", params=["s3", "webdav", "oci"])
def store_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from running(request.param, tmp_path_factory.mktemp(request.param))
