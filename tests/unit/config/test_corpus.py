"""Real-world ReaR configurations (tests/fixtures/rear-configs: ReaR's shipped examples, its documentation's
snippets, local.conf files users posted in ReaR's issues) get the outcome a user should get: loaded and accepted by
the prep checks (`# expect: ok`), or refused before any work with the right messages (`# expect: refused: TEXT`, one
line per problem; each problem must be expected and each expectation met). Every variable a configuration sets has
a state in the table (conf/rear-variables.tsv) unless the file names it as the user's own (`# own: NAME ...`).

Only the configuration and the validation run (what `rearbuild dump` does), no image is built, so this stays in the
quick subset. When a branch implements a method, an output or a scheme, the expectations of the configurations
that used it change: that is the point (update the `# expect:` lines).
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from rearbuild.config.bashstate import assigned_names
from rearbuild.config.loader import LoadRequest, load
from rearbuild.config.validate import problems
from rearbuild.config.variables import State, table
from rearbuild.errors import UserError
from rearbuild.facts import Facts, detect
from rearbuild.paths import Paths, default_share_dir

CORPUS = Path(__file__).resolve().parents[2] / "fixtures" / "rear-configs"
FILES = sorted(CORPUS.glob("*.conf"))


@dataclass(frozen=True)
class Expectation:
    refusals: tuple[str, ...]  # empty: accepted
    own: frozenset[str]

    @classmethod
    def of(cls, path: Path) -> Expectation:
        text = path.read_text()
        refusals = tuple(re.findall(r"^# expect: refused: (.+)$", text, re.M))
        ok = re.search(r"^# expect: ok$", text, re.M) is not None
        assert ok != bool(refusals), f"{path.name}: needs either '# expect: ok' or '# expect: refused: ...' lines"
        own = frozenset(" ".join(re.findall(r"^# own: (.+)$", text, re.M)).split())
        return cls(refusals, own)


@pytest.fixture(scope="module")
def facts() -> Facts:
    return detect()


def outcome(path: Path, tmp: Path, facts: Facts) -> list[str]:
    """The problems `rearbuild dump` reports for this local.conf (mkbackup's checks), load errors included."""
    share = default_share_dir()
    (tmp / "etc").mkdir()
    shutil.copy(path, tmp / "etc" / "local.conf")
    paths = Paths.resolve(config_dir=str(tmp / "etc"), var_dir=str(tmp / "var"), log_dir=str(tmp / "log"),
                          share_dir=str(share), tmpdir=str(tmp))  # fmt: skip
    request = LoadRequest(paths=paths, workflow="mkbackup", facts=facts, readonly={}, presets={"HOSTNAME": "host"},
                          lenient=True)  # fmt: skip
    try:
        config = load(request)[0]
    except UserError as exc:
        return [exc.message]
    return [p.message for p in problems(config, share / "recipes", str(share), backs_up=True)]


def test_the_corpus_has_at_least_50_configurations() -> None:
    assert len(FILES) >= 50


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_configuration_gets_the_expected_outcome(path: Path, tmp_path: Path, facts: Facts) -> None:
    expected = Expectation.of(path)
    found = outcome(path, tmp_path, facts)
    unexpected = [m for m in found if not any(e in m for e in expected.refusals)]
    unmet = [e for e in expected.refusals if not any(e in m for m in found)]
    assert not unexpected and not unmet, f"unexpected problems: {unexpected}; expected but not found: {unmet}"
    for message in found:
        # a refusal names the file and line that asked for it (a default.conf value for a missing program)
        assert re.match(r"^(error in configuration: )?\S+\.conf(:\d+|: line \d+)", message), message


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_every_variable_set_has_a_state(path: Path) -> None:
    own = Expectation.of(path).own
    defined = frozenset(re.findall(r"^(?:export\s+)?([A-Za-z_]\w*)\+?=", (default_share_dir() / "conf" /
                                   "default.conf").read_text(), re.M))  # fmt: skip
    stateless = sorted(n for n in assigned_names(path) - own if table().entry(n, defined).state is State.UNKNOWN)
    assert not stateless, f"{path.name} sets {stateless}: give them a row in conf/rear-variables.tsv (or '# own:')"
