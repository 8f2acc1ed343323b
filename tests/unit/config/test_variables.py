"""The table of every ReaR 2.7 variable and its state (rearbuild.config.variables), as users meet it: refused with
file:line and what to do instead, accepted with a notice, shown by `dump` and explained by `help VARIABLE`."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from rearbuild.config.variables import Entry, State, Table, documentation, table
from rearbuild.paths import default_share_dir
from tests.conftest import RearEnv, shipped_config

Run = Callable[..., tuple[int, str, str]]

# ReaR 2.7 as Debian ships it (ci/packages.txt: rear)
REAR_DEFAULT_CONF = Path("/usr/share/rear/conf/default.conf")
_ASSIGN = re.compile(
    r"(?:^|[;&|({ ]\s*|\bthen\s+|\belse\s+|\bdo\s+)(?:export |readonly |local |declare (?:-\w+ )*)?"
    r"([A-Za-z_][A-Za-z0-9_]*)(?:\[[^]]*\])?\+?="
)


def rear_names() -> set[str]:
    """Every variable ReaR 2.7's default.conf sets (also inside conditions) or documents as `#NAME=...`."""
    text = REAR_DEFAULT_CONF.read_text()
    names = {m for line in text.splitlines() if not line.lstrip().startswith("#") for m in _ASSIGN.findall(line)}
    names |= set(re.findall(r"^#\s*([A-Z][A-Z0-9_]{3,})=", text, re.M))
    return names


def defined() -> frozenset[str]:
    text = (default_share_dir() / "conf" / "default.conf").read_text()
    return frozenset(re.findall(r"^(?:export\s+)?([A-Za-z_]\w*)(?:\[[^]]*\])?\+?=", text, re.M))


def test_every_rear_variable_is_in_exactly_one_state(rear_env: RearEnv) -> None:
    rows = table()
    missing = sorted(rear_names() - rows.rear_names)
    assert not missing, f"ReaR 2.7 variables without a row in conf/rear-variables.tsv: {missing}"
    framework = shipped_config(rear_env, "").framework
    for entry in rows:
        state = rows.entry(entry.name, defined() | framework).state
        assert state is not State.UNKNOWN
        if entry.state is State.HONOURED:
            # honoured: rearbuild's default.conf defines it, or rearbuild sets it itself
            assert state is State.HONOURED, f"{entry.name}: row says honoured, default.conf does not define it"
        if state is not State.HONOURED:
            assert entry.why, f"{entry.name}: a {entry.state.value} row needs a reason"
    # rearbuild's own variables are honoured whatever the table says
    assert all(rows.entry(name, defined()).state is State.HONOURED for name in defined())


def test_a_default_conf_definition_wins_over_the_row() -> None:
    # what a branch that implements USB_DEVICE does: define it in default.conf; the stale row changes nothing
    rows = Table.parse("USB_DEVICE\tnot-yet\tOUTPUT=USB is not implemented yet; use OUTPUT=ISO\n")
    assert rows.entry("USB_DEVICE", frozenset()).state is State.NOT_YET
    assert rows.entry("USB_DEVICE", frozenset({"USB_DEVICE"})).state is State.HONOURED
    assert rows.entry("MY_OWN", frozenset()).state is State.UNKNOWN
    assert Entry("X", State.REFUSED, "why; do this").instead == "do this"


def test_a_refused_variable_names_file_line_and_what_to_do(rear_env: RearEnv, rearbuild: Run) -> None:
    local = rear_env.write("etc/local.conf", "OUTPUT=ISO\n\nKEYMAP=de-latin1\nISO_MAX_SIZE=4400\n")
    status, _, err = rearbuild("mkrescue")
    assert status == 1
    assert f"{local}:4: ISO_MAX_SIZE: splitting the backup over several ISO images is not implemented yet" in err
    assert "hint: remove it" in err
    rear_env.write("etc/local.conf", "BACKUP=GALAXY11\nGALAXY_COMMCELL=cc\n")
    status, _, err = rearbuild("mkrescue")
    assert status == 1 and f"{local}:2: GALAXY_COMMCELL: rearbuild has no BACKUP=GALAXY" in err
    assert "hint: use BACKUP=REQUESTRESTORE" in err
    # an empty value asks for nothing: accepted
    rear_env.write("etc/local.conf", "KEYMAP=\n")
    assert rearbuild("dump")[0] == 0


def test_an_irrelevant_variable_is_accepted_with_one_notice(rear_env: RearEnv, rearbuild: Run) -> None:
    local = rear_env.write("etc/local.conf", "ISO_MKISOFS_BIN=/usr/bin/xorrisofs\n")
    status, out, err = rearbuild("dump")
    assert status == 0, err
    assert err.count("ISO_MKISOFS_BIN is accepted and has no effect: rearbuild writes ISOs itself") == 1
    assert f"{local}:1: ISO_MKISOFS_BIN" in err
    line = next(line for line in out.splitlines() if line.startswith("ISO_MKISOFS_BIN="))
    assert line.endswith("[irrelevant]")
    # checklayout runs from cron (`checklayout || mkrescue`): the notice goes to the log only, no mail every night
    _, _, err = rearbuild("checklayout")
    assert "ISO_MKISOFS_BIN" not in err
    assert any("ISO_MKISOFS_BIN is accepted" in p.read_text() for p in rear_env.log_dir.glob("*.lockless"))


def test_dump_reports_refused_variables_after_the_dump(rear_env: RearEnv, rearbuild: Run) -> None:
    local = rear_env.write("etc/local.conf", "KEYMAP=de-latin1\nMY_SETTING=1\n")
    status, out, err = rearbuild("dump")
    assert status == 1
    assert re.search(r"^KEYMAP='de-latin1' .*\[not-yet\]$", out, re.M)
    assert re.search(r"^MY_SETTING='1' .*\[unknown\]$", out, re.M)
    assert f"{local}:1: KEYMAP: keyboard maps in the rescue system are not implemented yet" in err


def test_dump_variable_shows_meaning_state_and_value(rear_env: RearEnv, rearbuild: Run) -> None:
    local = rear_env.write("etc/local.conf", "OUTPUT_URL=file:///srv/out\nISO_MKISOFS_BIN=/bin/x\n")
    for workflow in ("dump",):  # `help VARIABLE` shows the meaning and default (tests/unit/test_cli.py)
        status, out, _ = rearbuild(workflow, "OUTPUT_URL", "ISO_MKISOFS_BIN", "TIMESYNC", "NOBODY")
        assert status == 0
        assert "OUTPUT_URL: honoured" in out
        assert "  Where results are copied (file:///dir)." in out  # its comment in default.conf
        assert f"  value: OUTPUT_URL='file:///srv/out'  # set by {local}" in out
        assert "ISO_MKISOFS_BIN: accepted, has no effect: rearbuild writes ISOs itself" in out
        assert "TIMESYNC: refused: not implemented yet: this rescue-network setting is not implemented yet" in out
        assert "  instead: use NETWORKING_PREPARATION_COMMANDS" in out
        assert "NOBODY: not a ReaR or rearbuild variable" in out and "  value: (not set)" in out


def test_documentation_is_the_comment_above_the_assignment() -> None:
    text = "# ---- Section\n\n# The key.\n# Both or neither.\nKEY=\nCERT=\nA=( x\n    y )\n# B's doc\nB=1\n"
    assert documentation(text, "KEY") == "The key.\nBoth or neither."
    assert documentation(text, "CERT") == "The key.\nBoth or neither."  # shares the comment above KEY
    assert documentation(text, "B") == "B's doc"
    assert documentation(text, "C") is None


def test_efi_stub_yes_is_output_uki(rear_env: RearEnv) -> None:
    assert shipped_config(rear_env, "EFI_STUB=yes\n", "mkrescue").text("OUTPUT") == "UKI"
    config = shipped_config(rear_env, "OUTPUT=ISO\nEFI_STUB=y\n", "mkrescue")
    assert config.text("OUTPUT") == "UKI" and config.origin("OUTPUT").endswith("local.conf")
    assert shipped_config(rear_env, "EFI_STUB=no\n", "mkrescue").text("OUTPUT") == "ISO"


def test_settings_refused_before_the_table_stay_refused() -> None:
    # rearbuild.config.compat's list (replaced by the table) named these; newer ReaR versions have them
    for name in ("REAR_INITRD_OVERLAY", "USE_RAMDISK", "BARREL_DEVICEGRAPH", "ZVM_NAMING", "ISO_MAX_SIZE"):
        assert table().entry(name, defined()).state.refuses, name
