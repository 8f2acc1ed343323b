"""Where rearbuild reads and writes: ReaR's directories, each one redirectable by option or environment.

Tests and unprivileged users point all of them into a temporary directory; the defaults are ReaR's (FHS).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import rearbuild

PACKAGE_DIR = Path(rearbuild.__file__).resolve().parent
# What ReaR keeps in /usr/share/rear: conf/, recipes/, skel/, images/.
SHARE_PARTS = ("conf", "recipes", "skel", "images")


def default_share_dir(package_dir: Path = PACKAGE_DIR) -> Path:
    """The checkout's top level when rearbuild runs from it (or is installed editable), else the copy a wheel
    carries in rearbuild/share (setup.py puts it there)."""
    checkout = package_dir.parent
    if checkout.is_file():
        # the rescue system runs rearbuild from a zipapp (rearbuild.build.zipapp); its data lies beside it
        return checkout.parent
    if all((checkout / part).is_dir() for part in SHARE_PARTS) and (checkout / "conf" / "default.conf").is_file():
        return checkout
    return package_dir / "share"


@dataclass(frozen=True)
class Paths:
    share_dir: Path
    config_dir: Path
    var_dir: Path
    log_dir: Path
    tmpdir: Path
    # Caches (hashes, initrd segments, generated module indexes): not in VAR_DIR, which ReaR copies into its rescue
    # images whole -- on a host with both tools, rearbuild's 60 MB of cache would end up in ReaR's initrd.
    cache_dir: Path
    # /etc/rear-release exists only inside a rescue system (ReaR's build/default/970_add_rear_release.sh).
    rescue_marker: Path
    # The configuration directory was named (-c, REARBUILD_CONFIG_DIR): it must exist. The default /etc/rear may
    # be missing (a fresh machine runs on the defaults).
    config_dir_required: bool = False

    @property
    def default_conf(self) -> Path:
        return self.share_dir / "conf" / "default.conf"

    @property
    def layout_dir(self) -> Path:
        return self.var_dir / "layout"

    @property
    def recovery_dir(self) -> Path:
        return self.var_dir / "recovery"

    @property
    def disk_plan(self) -> Path:
        """Where the disk plan is written before recreate runs it (ReaR's diskrestore.sh)."""
        return self.layout_dir / "diskrestore.sh"

    @property
    def disk_plan_done(self) -> Path:
        """The plan's done-markers: a re-run skips what is done."""
        return self.recovery_dir / "plan-done"

    @classmethod
    def resolve(
        cls,
        *,
        config_dir: str | None = None,
        var_dir: str | None = None,
        log_dir: str | None = None,
        share_dir: str | None = None,
        tmpdir: str | None = None,
        cache_dir: str | None = None,
        environ: Mapping[str, str] = os.environ,
    ) -> Paths:
        """Option first, then environment (REARBUILD_*_DIR, TMPDIR), then ReaR's default."""

        def pick(option: str | None, env: str, default: str) -> Path:
            return Path(option or environ.get(env) or default).absolute()

        var = pick(var_dir, "REARBUILD_VAR_DIR", "/var/lib/rear")
        # a redirected VAR_DIR (tests, unprivileged users) keeps its cache beside it
        cache_default = "/var/cache/rearbuild" if var == Path("/var/lib/rear") else str(var / "cache")
        return cls(
            share_dir=pick(share_dir, "REARBUILD_SHARE_DIR", str(default_share_dir())),
            config_dir=pick(config_dir, "REARBUILD_CONFIG_DIR", "/etc/rear"),
            var_dir=var,
            cache_dir=pick(cache_dir, "REARBUILD_CACHE_DIR", cache_default),
            log_dir=pick(log_dir, "REARBUILD_LOG_DIR", "/var/log/rear"),
            tmpdir=pick(tmpdir, "TMPDIR", "/var/tmp"),
            rescue_marker=pick(None, "REARBUILD_RESCUE_MARKER", "/etc/rear-release"),
            config_dir_required=bool(config_dir or environ.get("REARBUILD_CONFIG_DIR")),
        )
