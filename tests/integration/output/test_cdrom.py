"""OUTPUT=CDROM's burning with the real xorriso on its stdio: pseudo-drive (a file, or a block device written as if
it were a disc): the disc holds the ISO's bytes; no drive, no room, or no medium is one clear error and nothing is
written."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from rearbuild.errors import UserError
from rearbuild.output.cdrom import Medium, burn, probe

pytestmark = pytest.mark.slow


@pytest.fixture
def iso(tmp_path: Path) -> Path:
    content = tmp_path / "content"
    content.mkdir()
    (content / "hello.txt").write_text("rescue\n" * 50000)
    out = tmp_path / "rear-test.iso"
    subprocess.run(["xorriso", "-as", "mkisofs", "-quiet", "-V", "REAR-ISO", "-o", str(out), str(content)],
                   check=True, capture_output=True)  # fmt: skip
    return out


@pytest.fixture
def small_device(tmp_path: Path) -> Iterator[str]:
    """A 600 KiB block device (a loop device on a file): a medium too small for the ISO."""
    backing = tmp_path / "small.img"
    backing.write_bytes(b"\0" * 600 * 1024)
    device = subprocess.run(["losetup", "-f", "--show", str(backing)], check=True, capture_output=True, text=True)
    yield device.stdout.strip()
    subprocess.run(["losetup", "-d", device.stdout.strip()], check=True)


def test_the_iso_is_burnt_to_the_pseudo_drive(iso: Path, tmp_path: Path) -> None:
    disc = tmp_path / "disc.img"
    medium = burn(iso, f"stdio:{disc}")
    assert "stdio file" in medium.kind
    data = disc.read_bytes()
    assert data[: iso.stat().st_size] == iso.read_bytes()  # cdrecord pads after the image, nothing else differs
    listing = subprocess.run(["xorriso", "-indev", str(disc), "-ls", "/"], capture_output=True, text=True)
    assert "hello.txt" in listing.stdout


def test_no_drive_is_a_clear_error(iso: Path, tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"CDROM_DEVICE=stdio:/nonexistent/disc.img: no writable medium") as err:
        burn(iso, "stdio:/nonexistent/disc.img")
    assert err.value.hint and "CDROM_DEVICE" in err.value.hint
    with pytest.raises(UserError, match="needs CDROM_DEVICE"):
        probe("")


def test_a_medium_too_small_is_refused_before_writing(iso: Path, small_device: str) -> None:
    before = Path(small_device).read_bytes()
    with pytest.raises(UserError, match=r"does not fit on the medium \(0\.5 MiB free\)"):
        burn(iso, f"stdio:{small_device}")
    assert Path(small_device).read_bytes() == before


def test_a_closed_write_once_disc_is_not_writable() -> None:
    closed = Medium.parse("Media current: CD-R\nMedia status : is written , is closed\nMedia space  : 0s\n")
    assert not closed.writable
    assert Medium.parse("Media current: CD-RW\nMedia status : is written , is closed\n").writable
    blank = Medium.parse("Media current: DVD+R\nMedia status : is blank\nMedia space  : 2295104s\n")
    assert blank.writable and blank.free_sectors == 2295104
