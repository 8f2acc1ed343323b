"""Where rearbuild keeps its state and caches."""

from __future__ import annotations

from pathlib import Path

from rearbuild.paths import Paths


def test_one_cache_can_serve_many_builds_whatever_their_var_dir(tmp_path: Path) -> None:
    shared = tmp_path / "shared-cache"
    for host in ("a", "b"):
        paths = Paths.resolve(var_dir=str(tmp_path / host), cache_dir=str(shared), environ={})
        assert paths.cache_dir == shared
    assert Paths.resolve(var_dir=str(tmp_path / "a"), environ={}).cache_dir == tmp_path / "a" / "cache"
    env = {"REARBUILD_CACHE_DIR": str(tmp_path / "env")}
    assert Paths.resolve(cache_dir=str(shared), environ=env).cache_dir == shared  # the option first
