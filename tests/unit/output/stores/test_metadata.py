"""The metadata document of a published set: stable bytes, and a damaged or hostile one refused."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from rearbuild.errors import UserError
from rearbuild.output.stores.metadata import Metadata, Provenance, describe

PROV = Provenance("web01", "6.1.0-28-amd64", "0.1.0", "a" * 64, 1700000000)


def _doc(tmp_path: Path) -> Metadata:
    (tmp_path / "rear-web01.iso").write_bytes(b"iso")
    return describe([tmp_path / "rear-web01.iso"], PROV)


def test_the_same_results_give_the_same_bytes(tmp_path: Path) -> None:
    first = _doc(tmp_path).dumps()
    assert first == _doc(tmp_path).dumps()  # no time of publishing: publishing again is recognised
    doc = json.loads(first)
    assert doc["files"] == [{"name": "rear-web01.iso", "size": 3, "sha256": hashlib.sha256(b"iso").hexdigest()}]
    assert (doc["host"], doc["kernel"], doc["source_date_epoch"]) == ("web01", "6.1.0-28-amd64", 1700000000)
    assert Metadata.loads(first, "x") == _doc(tmp_path)


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda d: d["files"][0].update(name="../../etc/passwd"), "unsafe file"),
        (lambda d: d["files"][0].update(sha256="xyz"), "malformed sha256"),
        (lambda d: d["files"].append(dict(d["files"][0])), "twice"),
        (lambda d: d.pop("host"), "lacks a field"),
        (lambda d: d.update(format="other"), "not a rearbuild metadata"),
        (lambda d: d.update(version=99), "metadata version 99"),
    ],
)
def test_damaged_documents_are_refused(tmp_path: Path, change: object, words: str) -> None:
    doc = json.loads(_doc(tmp_path).dumps())
    change(doc)  # type: ignore[operator]
    with pytest.raises(UserError, match=words):
        Metadata.loads(json.dumps(doc).encode(), "s3://b/x rearbuild-metadata.json")


def test_describe_refuses_names_a_set_cannot_hold(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    for d in ("a", "b"):
        (tmp_path / d / "same.iso").write_bytes(b"x")
    with pytest.raises(UserError, match="same name"):
        describe([tmp_path / "a" / "same.iso", tmp_path / "b" / "same.iso"], PROV)
    (tmp_path / "with space.iso").write_bytes(b"x")
    with pytest.raises(UserError, match="rename"):
        describe([tmp_path / "with space.iso"], PROV)
