"""The variable reference read from the shipped default.conf (rearbuild.config.reference)."""

from __future__ import annotations

import re
from pathlib import Path

from rearbuild.config.reference import VariableState, read_reference
from rearbuild.paths import default_share_dir

DEFAULT_CONF = default_share_dir() / "conf" / "default.conf"


def test_every_variable_of_default_conf_is_in_the_reference_with_its_comment() -> None:
    defined = set(re.findall(r"^([A-Z_][A-Z0-9_]*)\+?=", DEFAULT_CONF.read_text(), re.MULTILINE))
    reference = {v.name: v for v in read_reference(DEFAULT_CONF)}
    assert set(reference) == defined
    undocumented = [name for name, v in reference.items() if not v.doc]
    assert undocumented == []
    assert all(v.state is VariableState.HONOURED for v in reference.values())


def test_a_comment_documents_the_assignments_below_it_and_arrays_span_lines(tmp_path: Path) -> None:
    conf = tmp_path / "default.conf"
    conf.write_text(
        "# ---- Section one ----\n\n# Two variables, one comment.\nA=1\nB=( x\n    y )\n\n# Other.\nC=\"$A\"\n"
        "# Right below.\nD=\n"
    )
    a, b, c, d = read_reference(conf)
    assert (d.name, d.doc) == ("D", "Right below.")
    assert (a.name, a.default, a.doc, a.section) == ("A", "1", "Two variables, one comment.", "Section one")
    assert (b.name, b.default, b.doc) == ("B", "( x y )", "Two variables, one comment.")
    assert (c.name, c.default, c.doc) == ("C", '"$A"', "Other.")
