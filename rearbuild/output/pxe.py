"""OUTPUT=PXE: the rescue kernel and initrd on a TFTP server, a boot configuration per host, and links that let
each node of the host find it by its MAC or IP address (ReaR's output/PXE/default/800_copy_to_tftp.sh,
810_create_pxelinux_cfg.sh and lib/bootloader-functions.sh make_pxelinux_config*, rear-upstream-study.md §4.6).

    ${PXE_TFTP_PREFIX}kernel, ${PXE_TFTP_PREFIX}initrd.cgz, ${PXE_TFTP_PREFIX}message
                                  to PXE_TFTP_URL/$OUTPUT_PREFIX_PXE (URL style) or PXE_TFTP_PATH (legacy)
    ${PXE_CONFIG_PREFIX}$HOSTNAME pxelinux (or, PXE_CONFIG_GRUB_STYLE, GRUB) configuration, to PXE_CONFIG_URL
                                  or PXE_CONFIG_PATH; mode 0444 as ReaR makes it
    01-aa-bb-cc-dd-ee-ff, C0A8010A, C0A801
                                  links to it (PXE_CREATE_LINKS=MAC or IP; "grub.cfg-" before each in GRUB style),
                                  the names pxelinux and GRUB's net boot try first (pxelinux.doc "Configuration
                                  filename"; GRUB manual "Network": grub.cfg-01-MAC, grub.cfg-HEXIP)
    ${PXE_CONFIG_PREFIX}$HOSTNAME.ipxe
                                  with PXE_HTTP_DOWNLOAD_URL: an iPXE script that loads kernel and initrd over
                                  HTTP (a 100+ MB initrd over TFTP takes minutes: ReaR PR #3100)

The configurations are jinja2 templates (images/pxe/, overridable from $CONFIG_DIR/templates/pxe/). Everything
written is a pure function of its inputs: two builds of the tree are byte-identical (links and file modes
included; mtimes are the clock's, as on any TFTP server).
"""

from __future__ import annotations

import enum
import ipaddress
import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

from rearbuild.checksum import sha256_file
from rearbuild.errors import UserError
from rearbuild.url import Reach, Url, Use

# Linux's initrd name on a ReaR TFTP server (ReaR's REAR_INITRD_FILENAME, whatever the compression).
INITRD_NAME = "initrd.cgz"
# GRUB's net boot looks for these names with this prefix in its prefix directory (grub-core/net/net.c,
# grub_net_search_config_file); pxelinux for the same names without it in pxelinux.cfg/.
GRUB_LINK_PREFIX = "grub.cfg-"
# The ARP hardware type of Ethernet (RFC 1700, "Hardware Type": 1), which pxelinux puts before the MAC.
ETHERNET_HTYPE = "01"


class LinkStyle(enum.Enum):
    """PXE_CREATE_LINKS: which per-node names point at the host's configuration."""

    MAC = "MAC"
    IP = "IP"
    NONE = ""

    @classmethod
    def parse(cls, value: str) -> LinkStyle:
        try:
            return cls(value.strip())
        except ValueError:
            raise UserError(f"PXE_CREATE_LINKS={value!r} is not MAC, IP or empty",
                            hint="write PXE_CREATE_LINKS=MAC (ReaR's default), IP or nothing") from None  # fmt: skip

    def names(self, interfaces: Sequence[Mapping[str, Any]]) -> list[str]:
        """The link names for the host's interfaces (the manifest's network facts), sorted, without duplicates."""
        names: set[str] = set()
        for nic in interfaces:
            if self is LinkStyle.MAC and nic.get("mac"):
                names.add(mac_name(str(nic["mac"])))
            elif self is LinkStyle.IP:
                for cidr in nic.get("addresses", ()):
                    address = ipaddress.ip_interface(str(cidr)).ip
                    if address.version == 4 and not address.is_loopback:
                        full = hex_ip(str(address))
                        names.update((full, full[:6]))  # ReaR: the address and, for its subnet, the first 6 digits
        return sorted(names)


def mac_name(mac: str) -> str:
    """pxelinux's per-node file name of a MAC address: 01-aa-bb-cc-dd-ee-ff (lower case)."""
    octets = mac.strip().lower().split(":")
    if len(octets) != 6 or not all(len(o) == 2 and all(c in "0123456789abcdef" for c in o) for o in octets):
        raise UserError(f"{mac!r} is not an Ethernet MAC address", hint="the collected network facts are damaged")
    return f"{ETHERNET_HTYPE}-{'-'.join(octets)}"


def hex_ip(address: str) -> str:
    """pxelinux's per-node file name of an IPv4 address: eight upper-case hex digits (gethostip -x)."""
    return f"{int(ipaddress.IPv4Address(address)):08X}"


class RecoverMode(enum.Enum):
    """PXE_RECOVER_MODE: what the configuration boots by default. ReaR's values, plus `manual` (rearbuild's:
    the rescue system without a recovery, as ISO_DEFAULT=manual)."""

    NONE = ""  # ReaR: prompt, then after PXE_TIMEOUT boot the next device
    AUTOMATIC = "automatic"
    UNATTENDED = "unattended"
    BOOTHD = "boothd"
    MANUAL = "manual"

    @classmethod
    def parse(cls, value: str) -> RecoverMode:
        try:
            return cls(value.strip())
        except ValueError:
            raise UserError(f"PXE_RECOVER_MODE={value!r} is not automatic, unattended, boothd, manual or empty",
                            hint="see PXE_RECOVER_MODE in default.conf") from None  # fmt: skip

    @property
    def boots_rescue(self) -> bool:
        return self in (RecoverMode.AUTOMATIC, RecoverMode.UNATTENDED, RecoverMode.MANUAL)

    @property
    def kernel_words(self) -> tuple[str, ...]:
        """What ReaR appends to the kernel command line: the mode itself (the rescue init knows both words)."""
        return (self.value,) if self in (RecoverMode.AUTOMATIC, RecoverMode.UNATTENDED) else ()


# Where distributions install pxelinux.0 and the BIOS com32 modules of the same syslinux build.
PXELINUX_LAYOUTS: tuple[tuple[Path, Path], ...] = (
    (Path("/usr/lib/PXELINUX"), Path("/usr/lib/syslinux/modules/bios")),  # Debian, Ubuntu
    (Path("/usr/share/syslinux"), Path("/usr/share/syslinux")),  # Fedora, RHEL, SUSE
    (Path("/usr/lib/syslinux/bios"), Path("/usr/lib/syslinux/bios")),  # Arch
)
# What ReaR copies next to pxelinux.0 for an unattended recovery (800_copy_to_tftp.sh); ldlinux.c32 is the core
# pxelinux.0 loads first, the others only what the configuration's entries use.
PXELINUX_MODULES = ("ldlinux.c32", "libcom32.c32", "libutil.c32", "menu.c32", "chain.c32", "hdt.c32", "reboot.c32",
                    "poweroff.c32")  # fmt: skip


def find_pxelinux(layouts: Sequence[tuple[Path, Path]] = PXELINUX_LAYOUTS) -> dict[str, Path]:
    """pxelinux.0 and the modules of its syslinux build that are installed (name -> path)."""
    for bin_dir, module_dir in layouts:
        if (bin_dir / "pxelinux.0").is_file() and (module_dir / "ldlinux.c32").is_file():
            found = {"pxelinux.0": bin_dir / "pxelinux.0"}
            found.update({name: module_dir / name for name in PXELINUX_MODULES if (module_dir / name).is_file()})
            return found
    raise UserError("PXE_RECOVER_MODE=unattended copies pxelinux.0 to the TFTP server, but it is not installed",
                    hint="apt-get install pxelinux syslinux-common (Fedora/SUSE: syslinux)")  # fmt: skip


def local_directory(text: str, variable: str) -> Path:
    """A file:// URL's directory (PXE_TFTP_URL, PXE_CONFIG_URL: a TFTP tree needs a file system for its links)."""
    url = Url.parse(text, Use.OUTPUT)
    if url.scheme.reach is not Reach.LOCAL:
        raise UserError(f"{variable}={text!r}: a TFTP tree needs a file system (links, modes)",
                        hint=f"write {variable}=file:///srv/tftp (an NFS export mounted there works too)")  # fmt: skip
    return Path(url.path)


@dataclass(frozen=True)
class PxeSettings:
    """The PXE_* variables, read and checked (prep does this, so that nothing is found out after the build)."""

    hostname: str
    tftp_dir: Path  # where kernel and initrd go (PXE_TFTP_URL's directory, or PXE_TFTP_PATH)
    config_dir: Path  # where the configuration and the links go
    url_style: bool  # PXE_TFTP_URL given: the files go below $OUTPUT_PREFIX_PXE; ReaR publishes them as results
    subdir: str = ""  # OUTPUT_PREFIX_PXE (URL style only, as ReaR)
    tftp_prefix: str = ""
    config_prefix: str = "rear-"
    links: LinkStyle = LinkStyle.MAC
    remove_old_links: bool = False
    grub_style: bool = False
    recover_mode: RecoverMode = RecoverMode.NONE
    tftp_ip: str = ""
    http_upload: Url | None = None
    http_download: str = ""
    s3_endpoint: str = ""  # S3_ENDPOINT_URL, for an s3:// PXE_HTTP_UPLOAD_URL
    cmdline: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        for name, value in (("PXE_TFTP_PREFIX", self.tftp_prefix), ("PXE_CONFIG_PREFIX", self.config_prefix),
                            ("OUTPUT_PREFIX_PXE", self.subdir)):  # fmt: skip
            if any(c.isspace() or c in "\"'$;\\" for c in value) or ".." in value.split("/"):
                raise UserError(f"{name}={value!r} must not contain blanks, quotes or ..",
                                hint="boot loaders cannot quote file names")  # fmt: skip
        if self.tftp_ip:
            try:
                ipaddress.ip_address(self.tftp_ip)
            except ValueError:
                raise UserError(f"PXE_TFTP_IP={self.tftp_ip!r} is not an IP address") from None

    @property
    def config_name(self) -> str:
        return f"{self.config_prefix}{self.hostname}"

    def served(self, name: str) -> str:
        """A file's path as the boot loader asks the TFTP server for it."""
        return f"{self.subdir.strip('/')}/{name}" if self.url_style and self.subdir.strip("/") else name

    @property
    def kernel(self) -> str:
        return self.served(f"{self.tftp_prefix}kernel")

    @property
    def initrd(self) -> str:
        return self.served(f"{self.tftp_prefix}{INITRD_NAME}")

    @property
    def message(self) -> str:
        return self.served(f"{self.tftp_prefix}message")


# Every setting settings_from reads (conf/default.conf documents them).
VARIABLES = (
    "HOSTNAME", "PXE_TFTP_URL", "PXE_TFTP_UPLOAD_URL", "PXE_TFTP_PATH", "PXE_TFTP_PREFIX", "PXE_TFTP_IP",
    "OUTPUT_PREFIX_PXE", "PXE_CONFIG_URL", "PXE_CONFIG_PATH", "PXE_CONFIG_PREFIX", "PXE_CREATE_LINKS",
    "PXE_REMOVE_OLD_LINKS", "PXE_CONFIG_GRUB_STYLE", "PXE_RECOVER_MODE", "PXE_HTTP_URL", "PXE_HTTP_DOWNLOAD_URL",
    "PXE_HTTP_UPLOAD_URL", "S3_ENDPOINT_URL",
)


def settings_from(values: Mapping[str, str], cmdline: Sequence[str]) -> PxeSettings:
    """PxeSettings from the configuration's values (names as in default.conf)."""

    def one_of(new: str, old: str) -> str:
        # later ReaR renamed PXE_TFTP_URL to PXE_TFTP_UPLOAD_URL and PXE_HTTP_URL to PXE_HTTP_DOWNLOAD_URL
        a, b = values[new].strip(), values[old].strip()
        if a and b and a != b:
            raise UserError(f"{new} and {old} name different places ({a!r}, {b!r})",
                            hint=f"{old} is ReaR 2.7's name of {new}: set one of them")  # fmt: skip
        return a or b

    tftp_url = one_of("PXE_TFTP_UPLOAD_URL", "PXE_TFTP_URL")
    config_url = values["PXE_CONFIG_URL"].strip()
    http_upload = values["PXE_HTTP_UPLOAD_URL"].strip()
    http_download = one_of("PXE_HTTP_DOWNLOAD_URL", "PXE_HTTP_URL").rstrip("/")
    if http_upload and not http_download:
        raise UserError("PXE_HTTP_UPLOAD_URL is set but not PXE_HTTP_DOWNLOAD_URL",
                        hint="set PXE_HTTP_DOWNLOAD_URL to where the nodes download the files from")  # fmt: skip
    if http_download and not http_download.startswith(("http://", "https://")):
        raise UserError(f"PXE_HTTP_DOWNLOAD_URL={http_download!r} is not an http(s):// URL")
    upload = Url.parse(http_upload, Use.OUTPUT) if http_upload else None
    if upload is not None and upload.scheme.reach not in (Reach.LOCAL, Reach.REMOTE):
        raise UserError(f"PXE_HTTP_UPLOAD_URL={http_upload!r} cannot be written",
                        hint="use file:///var/www/..., https://HOST/PATH (WebDAV) or s3://BUCKET/PREFIX")  # fmt: skip
    tftp_ip = values["PXE_TFTP_IP"].strip()
    if not tftp_ip and tftp_url:
        host = Url.parse(tftp_url, Use.OUTPUT).host if "://" in tftp_url and "file://" not in tftp_url else ""
        tftp_ip = host.split(":")[0] if _is_ip(host.split(":")[0]) else ""
    grub_style = values["PXE_CONFIG_GRUB_STYLE"].strip().lower() in ("y", "yes", "true", "1", "on")
    return PxeSettings(
        hostname=values["HOSTNAME"],
        tftp_dir=local_directory(tftp_url, "PXE_TFTP_URL") if tftp_url else Path(values["PXE_TFTP_PATH"]),
        config_dir=local_directory(config_url, "PXE_CONFIG_URL") if config_url else Path(values["PXE_CONFIG_PATH"]),
        url_style=bool(tftp_url),
        subdir=values["OUTPUT_PREFIX_PXE"],
        tftp_prefix=values["PXE_TFTP_PREFIX"],
        config_prefix=values["PXE_CONFIG_PREFIX"],
        links=LinkStyle.parse(values["PXE_CREATE_LINKS"]),
        remove_old_links=values["PXE_REMOVE_OLD_LINKS"].strip().lower() in ("y", "yes", "true", "1", "on"),
        grub_style=grub_style,
        recover_mode=RecoverMode.parse(values["PXE_RECOVER_MODE"]),
        tftp_ip=tftp_ip,
        http_upload=upload,
        http_download=http_download,
        s3_endpoint=values.get("S3_ENDPOINT_URL", ""),
        cmdline=tuple(cmdline),
    )


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


class PxeTemplates:
    """images/pxe/*.j2, each replaceable by a file of the same name in the user's $CONFIG_DIR/templates/pxe/."""

    def __init__(self, shipped: Path, user: Path | None = None) -> None:
        if not shipped.is_dir():
            raise UserError(f"the PXE templates {shipped} do not exist", hint="check --share-dir")
        loaders: list[jinja2.BaseLoader] = [jinja2.FileSystemLoader(str(shipped))]
        if user is not None and user.is_dir():
            loaders.insert(0, jinja2.FileSystemLoader(str(user)))
        self._env = jinja2.Environment(
            loader=jinja2.ChoiceLoader(loaders),
            undefined=jinja2.StrictUndefined,
            autoescape=False,  # boot loader configurations, not HTML
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )

    def render(self, name: str, **context: object) -> str:
        try:
            return self._env.get_template(name).render(**context)
        except jinja2.TemplateError as exc:
            raise UserError(f"the PXE template {name} cannot be rendered: {exc}",
                            hint="check your copy in $CONFIG_DIR/templates/pxe/") from exc  # fmt: skip


@dataclass(frozen=True)
class PxeTree:
    """What write_pxe wrote: every file (for RESULT_FILES in legacy mode) and the link names."""

    files: tuple[Path, ...]
    config: Path
    links: tuple[str, ...]
    digests: Mapping[Path, str]


def _install(source: Path | bytes, target: Path, mode: int) -> str:
    """target (through a temporary name: a node booting meanwhile never reads half a file) with mode; its sha256."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.part")
    if isinstance(source, bytes):
        tmp.write_bytes(source)
    else:
        shutil.copyfile(source, tmp)
    tmp.chmod(mode)
    tmp.replace(target)
    return sha256_file(target)


def _relink(directory: Path, names: Sequence[str], config_name: str, *, remove_old: bool) -> None:
    if remove_old:
        # ReaR: every link in the directory that points at this host's configuration
        for entry in sorted(directory.iterdir()):
            if entry.is_symlink() and os.readlink(entry) == config_name:
                entry.unlink()
    for name in names:
        link = directory / name
        if link.is_symlink() or link.exists():
            if link.is_dir() and not link.is_symlink():
                raise UserError(f"{link} is a directory, not a per-node link", hint="remove it from the PXE tree")
            link.unlink()
        link.symlink_to(config_name)


def write_pxe(
    settings: PxeSettings,
    *,
    kernel: Path,
    initrd: Path,
    templates: PxeTemplates,
    interfaces: Sequence[Mapping[str, Any]],
    version_info: str,
    pxelinux: Sequence[tuple[Path, Path]] = PXELINUX_LAYOUTS,
) -> PxeTree:
    """Copy kernel and initrd to the TFTP tree (and the HTTP location), write the configuration and the links.
    With PXE_TFTP_URL and PXE_RECOVER_MODE=unattended, pxelinux.0 and its modules go to the TFTP root too (ReaR:
    an unattended recovery must not depend on what the server has)."""
    tftp = settings.tftp_dir
    config_dir = settings.config_dir
    for what, directory in (("PXE_TFTP", tftp), ("PXE_CONFIG", config_dir)):
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"cannot create the {what} directory {directory}: {exc.strerror}",
                            hint=f"check {what}_URL / {what}_PATH and its permissions") from exc  # fmt: skip
    digests: dict[Path, str] = {}
    files: list[Path] = []
    # ReaR: mode 0644, the TFTP server reads them as another user
    for source, served in ((kernel, settings.kernel), (initrd, settings.initrd)):
        target = tftp / served
        digests[target] = _install(source, target, 0o644)
        files.append(target)
    if settings.url_style and settings.recover_mode is RecoverMode.UNATTENDED and not settings.grub_style:
        for name, source in sorted(find_pxelinux(pxelinux).items()):
            digests[tftp / name] = _install(source, tftp / name, 0o644)
            files.append(tftp / name)
    message = tftp / settings.message
    digests[message] = _install(version_info.encode(), message, 0o644)
    files.append(message)
    http = ""
    if settings.http_download:
        http = settings.http_download
    context = {
        "settings": settings,
        "hostname": settings.hostname,
        "kernel": settings.kernel,
        "initrd": settings.initrd,
        "message": settings.message,
        "cmdline": " ".join((*settings.cmdline, *settings.recover_mode.kernel_words)),
        "mode": settings.recover_mode.value,
        "http": http,
        "version_info": version_info.strip(),
    }
    template = "grub.cfg.j2" if settings.grub_style else "pxelinux.cfg.j2"
    config = config_dir / settings.config_name
    if config.exists():
        config.chmod(0o644)  # ReaR leaves it 0444: the next run must still replace it
    digests[config] = _install(templates.render(template, **context).encode(), config, 0o444)
    files.append(config)
    if settings.http_download:
        script = config_dir / f"{settings.config_name}.ipxe"
        digests[script] = _install(templates.render("ipxe.j2", **context).encode(), script, 0o644)
        files.append(script)
    prefix = GRUB_LINK_PREFIX if settings.grub_style else ""
    names = [prefix + n for n in settings.links.names(interfaces)]
    _relink(config_dir, names, settings.config_name, remove_old=settings.remove_old_links)
    if settings.http_upload is not None:
        upload_http(settings, {settings.kernel: kernel, settings.initrd: initrd})
    return PxeTree(tuple(files), config, tuple(names), digests)


def upload_http(settings: PxeSettings, files: Mapping[str, Path]) -> None:
    """The kernel and initrd to PXE_HTTP_UPLOAD_URL, under the names the nodes download them by."""
    url = settings.http_upload
    assert url is not None
    if url.scheme.reach is Reach.LOCAL:
        for served, source in sorted(files.items()):
            _install(source, Path(url.path) / served, 0o644)
        return
    from rearbuild.output.stores import open_store

    store = open_store(url, s3_endpoint=settings.s3_endpoint)  # credentials: the store's usual places
    for served, source in sorted(files.items()):
        store.put(served, source, sha256_file(source))
