"""pycdlib pinned (rearbuild.output.pinned): its clock and randomness stopped for one build, and the pycdlib
internals that pinned.py and iso.py patch still where they expect them."""

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


# The pycdlib internals rearbuild relies on, by module: the module objects pinned.py swaps inside it and the call
# through them that stamps the ISO (pycdlib is pinned to one version in pyproject.toml for these).
PINNED_MODULES = {
    "pycdlib.dates": {"time": "time.localtime("},  # the GMT-offset byte of every date
    "pycdlib.headervd": {"time": "time.time()"},  # volume descriptor dates and the root record
    "pycdlib.pycdlib": {"time": "time.time()"},  # every directory and file record added
    "pycdlib.isohybrid": {"uuid": "uuid.uuid4()", "random": "random.getrandbits("},  # GPT GUIDs, MBR id default
}


def test_pycdlib_internals_that_pinned_and_iso_patch_are_still_there() -> None:
    import importlib
    import inspect
    import sys

    import pycdlib
    import pycdlib.isohybrid

    problems: list[str] = []
    for module_name, uses in PINNED_MODULES.items():
        module = importlib.import_module(module_name)
        source = inspect.getsource(module)
        for name, call in uses.items():
            if getattr(module, name, None) is not sys.modules[name]:
                problems.append(f"{module_name} no longer imports the {name} module (pinned.py swaps {name} there)")
            elif call not in source:
                problems.append(f"{module_name} no longer calls {call!r} (pinned.py pins it through {name})")
    hybrid = pycdlib.isohybrid.IsoHybrid
    calc_cc = getattr(hybrid, "_calc_cc", None)
    if calc_cc is None or list(inspect.signature(calc_cc).parameters) != ["self", "iso_size"]:
        problems.append("IsoHybrid._calc_cc(self, iso_size) is gone or changed (iso.py's _room_for_backup_gpt)")
    hybrid_source = inspect.getsource(hybrid)
    for attribute in ("efi", "geometry_heads", "geometry_sectors"):
        if f"self.{attribute} = " not in hybrid_source:
            problems.append(f"IsoHybrid no longer sets self.{attribute} (iso.py's _room_for_backup_gpt reads it)")
    add_isohybrid = inspect.signature(pycdlib.PyCdlib.add_isohybrid).parameters
    for parameter in ("efi", "mbr_id"):
        if parameter not in add_isohybrid:
            problems.append(f"PyCdlib.add_isohybrid has no {parameter}= (iso.py passes it)")
    changed = "\n  ".join(problems)
    assert not problems, f"pycdlib changed under rearbuild (see pycdlib== in pyproject.toml):\n  {changed}"
