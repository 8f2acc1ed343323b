"""pycdlib pinned (rearbuild.output.pinned): its clock and randomness stopped for one build."""

from __future__ import annotations

import time
import uuid

from rearbuild.output import pinned


def test_pinned_pycdlib_stops_pycdlibs_clock_and_restores_it() -> None:
    import pycdlib.dates
    import pycdlib.isohybrid

    with pinned.pinned_pycdlib(epoch=1_000_000_000, seed="s"):
        assert pycdlib.dates.time.time() == 1_000_000_000.0
        assert pycdlib.dates.time.localtime() == time.gmtime(1_000_000_000)
        first = pycdlib.isohybrid.uuid.uuid4()
        assert time.time() > 1_600_000_000  # the rest of the process keeps the real clock
    with pinned.pinned_pycdlib(epoch=1_000_000_000, seed="s"):
        assert pycdlib.isohybrid.uuid.uuid4() == first
    assert pycdlib.dates.time is time
    assert pycdlib.isohybrid.uuid is uuid
    assert first.version == 4
