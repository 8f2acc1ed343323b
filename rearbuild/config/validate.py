"""What can be known before any work about whether a configuration's image could recover the machine.

Nothing may be found out during the disaster: a BACKUP method without restore recipes, an OUTPUT without output
recipes, an OUTPUT_URL/BACKUP_URL of a scheme rearbuild does not implement, programs a URL's scheme needs that
are missing, and ReaR variables rearbuild refuses. `mkrescue`/`mkbackup` stop in prep on the first problem
(recipes/prep/default/030_validate.py), `dump` and `-s` print them all and exit non-zero.

It is driven by what exists, not by lists: a method is valid when recipes/restore/<BACKUP> (recipes/output/<OUTPUT>)
exists and a scheme when rearbuild.url implements it, so the methods and schemes other work adds are accepted
without a change here.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from rearbuild.config.model import Config
from rearbuild.config.variables import table
from rearbuild.errors import UserError
from rearbuild.url import Scheme, Url, Use

# The PATH configuration files are evaluated with (bashstate.clean_environment): programs are looked up there.
SEARCH_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(frozen=True)
class Problem:
    message: str  # starts with file:line where one is known
    hint: str

    def error(self) -> UserError:
        return UserError(self.message, hint=self.hint)


def variable_problems(config: Config, shipped: str) -> list[Problem]:
    """ReaR variables set by the user's files that rearbuild refuses (conf/rear-variables.tsv)."""
    found = []
    rows = table()
    for setting in config:
        if setting.origin.startswith(shipped) or setting.origin.startswith("<") or setting.value in ("", ()):
            continue
        entry = rows.entry(setting.name, config.known | config.framework)
        if entry.state.refuses:
            found.append(Problem(f"{config.where(setting.name)}: {setting.name}: {entry.why}", entry.instead))
    return found


def _is_method(recipes: Path, stage: str, name: str) -> bool:
    # recipes/output/TSM holds what BACKUP=TSM does at the end of mkrescue (ReaR runs a stage's directories of
    # both OUTPUT and BACKUP): a backup method is no OUTPUT
    return (recipes / stage / name).is_dir() and not (stage == "output" and (recipes / "restore" / name).is_dir())


def _methods(recipes: Path, stage: str) -> list[str]:
    where = recipes / stage
    if not where.is_dir():
        return []
    return sorted(p.name for p in where.iterdir() if p.name.isupper() and _is_method(recipes, stage, p.name))


def _method(config: Config, name: str, recipes: Path, stage: str, purpose: str) -> Problem | None:
    value = config.text(name).strip()
    if len(value.split()) > 1:  # ReaR's OUTPUT and BACKUP are one word each (prep/default/035, 036)
        return Problem(f"{config.where(name)}: {name}={value!r} names several methods; ReaR takes one",
                       "run once per method, e.g. OUTPUT=ISO, then rearbuild -C pxe.conf image")  # fmt: skip
    if value and _is_method(recipes, stage, value):
        return None
    known = ", ".join(_methods(recipes, stage)) or "(none yet)"
    return Problem(
        f"{config.where(name)}: {name}={value!r} is not a method rearbuild has ({purpose})",
        f"choose one of: {known}",
    )


def _url(config: Config, name: str, use: Use) -> tuple[Url | None, Problem | None]:
    text = config.text(name).strip()
    if not text:
        return None, None
    try:
        return Url.parse(text, use), None
    except UserError as exc:
        return None, Problem(f"{config.where(name)}: {exc.message}", exc.hint or "")


def missing_programs(programs: Iterable[str], path: str = SEARCH_PATH) -> list[str]:
    return [p for p in dict.fromkeys(programs) if shutil.which(p, path=path) is None]


def method_problems(config: Config, recipes: Path, *, backs_up: bool = True) -> list[Problem]:
    """OUTPUT, BACKUP and the URLs: each must be something rearbuild can carry out, and recover can restore.

    BACKUP is checked for every image (mkrescue too): an image whose recover has nothing to restore with is found
    out only in the disaster. backs_up: whether BACKUP_URL is written now (mkbackup), so its scheme's programs must
    be here.
    """
    found: list[Problem] = []
    # A share directory without methods of a kind (a test's bare installation) has nothing to judge against; running
    # a workflow there fails on its empty stages anyway.
    methods = [
        _method(config, name, recipes, stage, purpose)
        for name, stage, purpose in (
            ("OUTPUT", "output", "recipes/output/<OUTPUT> makes it"),
            ("BACKUP", "restore", "recover could not restore with it"),
        )
        if (recipes / stage).is_dir()
    ]
    found += [problem for problem in methods if problem is not None]
    programs: list[str] = []
    for name, use in (("OUTPUT_URL", Use.OUTPUT), ("BACKUP_URL", Use.BACKUP)):
        if use is Use.BACKUP and "BACKUP" in config and config.text("BACKUP").strip() == "RSYNC":
            # BACKUP=RSYNC reads BACKUP_URL in ReaR's rsync grammar (rsync://HOST/PATH, HOST::MODULE, HOST:PATH),
            # not as a location to mount; imported here: rearbuild.backup reads configurations itself
            from rearbuild.backup.rsync import parse_url

            try:
                parse_url(config.text(name))
            except UserError as exc:
                found.append(Problem(f"{config.where(name)}: {exc.message}", exc.hint or ""))
            continue
        url, problem = _url(config, name, use)
        usb_elsewhere = url is not None and url.scheme is Scheme.USB and config.text("OUTPUT").strip() != "USB"
        if use is Use.OUTPUT and usb_elsewhere:
            problem = Problem(f"{config.where(name)}: {name}={config.text(name)!r}: a USB medium receives the "
                              "results of OUTPUT=USB only", "set OUTPUT=USB, or OUTPUT_URL=file:///DIR")  # fmt: skip
        if problem is not None:
            found.append(problem)
        elif url is not None and (use is Use.OUTPUT or backs_up):
            programs += url.scheme.programs
    tmpdir = config.text("TMPDIR") if "TMPDIR" in config else ""
    if tmpdir and not config.origin("TMPDIR").startswith("<") and not Path(tmpdir).is_dir():
        # ReaR: "/prefix/for/rear/working/directory must already exist"; the build area is made there
        found.append(Problem(f"{config.where('TMPDIR')}: TMPDIR={tmpdir!r} is not a directory", f"create {tmpdir}"))
    missing = missing_programs([*config.items("REQUIRED_PROGS"), *programs])
    if missing:
        found.append(
            Problem(
                f"{config.where('REQUIRED_PROGS')}: programs the rescue system and its methods need are missing "
                f"here: {', '.join(missing)}",
                "install them, or remove them from REQUIRED_PROGS",
            )
        )
    return found


def setting_problems(config: Config) -> list[Problem]:
    """Settings whose value recovery could not honour (BOOTLOADER, GRUB_RESCUE=y): prep refuses them too
    (recipes/prep/default/030_check_bootloader.py), dump and -s report them with the rest."""
    # imported here: rearbuild.recover reads configurations itself
    from rearbuild.recover.bootloader import Bootloader, check_grub_rescue

    found: list[Problem] = []
    for name in ("BOOTLOADER", "GRUB_RESCUE"):
        if name not in config:
            continue
        try:
            if name == "BOOTLOADER":
                Bootloader.parse(config.text(name), config.where(name))
            else:
                check_grub_rescue(config.flag(name), config.where(name))
        except UserError as exc:
            found.append(Problem(exc.message, exc.hint or ""))
    return found


def problems(config: Config, recipes: Path, shipped: str, *, backs_up: bool = True) -> list[Problem]:
    """Every problem; shipped: the share directory (what its own conf files set is not the user's doing)."""
    return [
        *variable_problems(config, shipped),
        *method_problems(config, recipes, backs_up=backs_up),
        *setting_problems(config),
    ]


def refuse(found: list[Problem]) -> None:
    """Stop on the first problem, saying how many more there are (`rearbuild dump` lists them all)."""
    if found:
        more = f" (and {len(found) - 1} more problem{'s' if len(found) > 2 else ''}: rearbuild dump lists them)"
        first = found[0]
        raise UserError(first.message + (more if len(found) > 1 else ""), hint=first.hint)
