"""The command line of rear: `rearbuild [-h] [-V] [-v] [-d] [-D] [-s] [-S] [-c DIR] [-C FILE] [-r KERNEL] [-n]
[-e] WORKFLOW [ARGS]`, the same letters and meanings as ReaR (study §1.1), plus long options that redirect
every directory.

Lifecycle of a run: options -> lock -> log file -> build area -> configuration -> workflow -> cleanup. The build
area is removed after success, failure and Ctrl-C unless -d or KEEP_BUILD_DIR says to keep it.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import re
import shlex
import signal
import sys
import traceback
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path
from types import FrameType

from rearbuild import __version__, buildarea, engine
from rearbuild.buildarea import BuildArea
from rearbuild.config.loader import LoadRequest, load
from rearbuild.config.model import truth
from rearbuild.config.reference import read_reference
from rearbuild.context import Context, Options
from rearbuild.docs.topic import describe
from rearbuild.dump import dump
from rearbuild.errors import InternalError, UserError
from rearbuild.facts import Facts, KernelCmdline, detect
from rearbuild.hostinstall import install
from rearbuild.lock import RunLock
from rearbuild.log import close_logfile, notice, open_logfile, save_log_as, setup_console, to_file
from rearbuild.paths import Paths
from rearbuild.recipe import interactive_shell
from rearbuild.recover.options import TARGET_FS_ROOT
from rearbuild.run import set_trace_output
from rearbuild.url import redact_userinfo
from rearbuild.workflow import Locking, Workflow

log = logging.getLogger("rearbuild")


class Terminated(BaseException):
    """SIGTERM/SIGHUP: unwind like Ctrl-C so that cleanup runs."""


def parser() -> argparse.ArgumentParser:
    """The command line (also the source of the man page and the bash completion)."""
    return _parser()


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="rearbuild",
        description="Relax-and-Recover, built as a rescue-image factory.",
        add_help=False,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Workflows:\n" + "\n".join(f"  {w.value:<13} {w.description}" for w in Workflow),
    )
    p.add_argument("-h", "--help", action="store_true", help="show this help and exit")
    p.add_argument("-V", "--version", action="store_true", help="show the version and exit")
    p.add_argument("-v", "--verbose", action="store_true", help="show progress on the terminal")
    p.add_argument("-d", "--debug", action="store_true", help="debug messages; keep the build area")
    p.add_argument(
        "-D",
        dest="debugscripts",
        action="store_const",
        const="x",
        help="like -d, and trace the run (= --debugscripts x): every recipe entered and left and every external "
        "command with its argv, on the terminal and in the log; shell recipes run with set -x",
    )
    p.add_argument(
        "--debugscripts",
        metavar="SET",
        dest="debugscripts",
        help="like -D; shell recipes run with `set -SET` (e.g. xv), as ReaR's scripts",
    )
    p.add_argument(
        "-s",
        "--simulate",
        action="store_true",
        help="list the recipes that would run, then run the prep stage's checks (they change nothing); "
        "exit 1 when one fails",
    )
    p.add_argument(
        "-p",
        "--portable",
        action="store_true",
        help="portable mode (ReaR's -p): run from a checkout or tarball (python3 -m rearbuild), and the recovery "
        "workflows outside the rescue system (in a foreign live system)",
    )
    p.add_argument("-S", "--step", action="store_true", help="ask before each recipe")
    p.add_argument("-c", "--config-dir", metavar="DIR", help="configuration directory (default /etc/rear)")
    p.add_argument(
        "-C",
        "--config",
        metavar="FILE",
        action="append",
        default=[],
        help="additional configuration file, read last (repeatable)",
    )
    p.add_argument("-r", "--kernel", metavar="KERNEL", help="kernel version of the rescue system")
    p.add_argument("-n", "--non-interactive", action="store_true", help="never wait for input")
    p.add_argument("-e", "--expose-secrets", action="store_true", help="show secret values in dump and logs")
    p.add_argument("--var-dir", metavar="DIR", help="state directory (default /var/lib/rear)")
    p.add_argument("--log-dir", metavar="DIR", help="log directory (default /var/log/rear)")
    p.add_argument("--share-dir", metavar="DIR", help="recipes, skel, images, shipped conf (default: package)")
    p.add_argument(
        "--cache-dir",
        metavar="DIR",
        help="content-addressed build cache, shareable by many builds (default /var/cache/rearbuild)",
    )
    p.add_argument("--tmpdir", metavar="DIR", help="where the build area is made (default $TMPDIR or /var/tmp)")
    p.add_argument("workflow", nargs="?", default="help", help="what to do (see below)")
    p.add_argument("args", nargs=argparse.REMAINDER, help="arguments of the workflow")
    return p


# --debugscripts SET: letters of bash's `set -SET` (ReaR passes SET to set; x and v are the useful ones)
_SET_FLAGS = re.compile(r"[abefhkmnptuvxBCEHPT]+")


def _install(workflow: Workflow, argv: tuple[str, ...], paths: Paths) -> int:
    """rearbuild install [--root DIR] [--prefix DIR]: no configuration, no lock, no log: files only."""
    args = workflow.parse_arguments(argv)
    # the units call the command that installed them: the venv's or the package's rearbuild, by absolute path
    command = str(Path(sys.argv[0]).resolve()) if Path(sys.argv[0]).name == "rearbuild" else "rearbuild"
    try:
        done = install(Path(args.root), prefix=args.prefix, command=command, parser=_parser(),
                       variables=read_reference(paths.default_conf), version=__version__)  # fmt: skip
    except OSError as exc:
        _report(UserError(f"cannot install into {args.root}: {exc}", hint="run as root, or give --root DIR"))
        return 1
    for path in done.all():
        print(path)
    notice("the timer is installed, not enabled: systemctl enable --now rearbuild-checklayout.timer")
    return 0


# An error is one line a person reads: a value of megabytes (a 5 MB BACKUP_URL quoted in a message) is cut here.
# The cut message still names the problem, which comes first; the traceback in the log keeps everything.
_MESSAGE_MAX = 1000


def _cut(text: str) -> str:
    if len(text) <= _MESSAGE_MAX:
        return text
    return f"{text[:_MESSAGE_MAX]}... ({len(text) - _MESSAGE_MAX} more characters)"


def _report(exc: UserError) -> None:
    log.error("%s", _cut(exc.message))
    if exc.hint:
        log.error("hint: %s", _cut(exc.hint))


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise Terminated(signal.Signals(signum).name)


def _log_path(paths: Paths, hostname: str, workflow: Workflow) -> Path:
    name = f"rear-{hostname}.log"
    if workflow.locking is Locking.SIMULTANEOUS:
        # Runs that may go on beside each other keep one log each (ReaR: rear-$HOSTNAME.$$.log).
        return paths.log_dir / f"rear-{hostname}.{os.getpid()}.log"
    # A lockless run (dump) must not replace the log of a run that may be going on (ReaR: $LOGFILE.lockless).
    return paths.log_dir / (name + ".lockless" if workflow.locking is Locking.NONE else name)


def _make_build_dir(paths: Paths) -> BuildArea:
    try:
        paths.tmpdir.mkdir(parents=True, exist_ok=True)
        buildarea.sweep(paths.tmpdir)  # what a killed run left
        area = BuildArea(paths.tmpdir)
    except OSError as exc:
        raise UserError(
            f"cannot create the build area in {paths.tmpdir}: {exc.strerror}",
            hint="point TMPDIR or --tmpdir to a writable directory",
        ) from exc
    for sub in ("rootfs", "tmp"):
        (area.path / sub).mkdir()
    return area


def _keep_build_dir(ctx: Context | None, options: Options, failed: bool) -> bool:
    if options.debug:
        return True
    if ctx is None or "KEEP_BUILD_DIR" not in ctx.config:
        return False
    word = ctx.text("KEEP_BUILD_DIR")
    if word.strip().lower() == "errors":  # ReaR's third value: keep it only when the run failed
        return failed
    return truth(word) is True


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    debug = args.debug or args.debugscripts
    setup_console(2 if debug else 1 if args.verbose else 0)
    set_trace_output(bool(args.debugscripts))
    if args.version:
        print(f"rearbuild {__version__} (Relax-and-Recover compatible)")
        return 0
    if args.help:
        _parser().print_help()
        return 0
    try:
        workflow = Workflow.parse(args.workflow)
    except UserError as exc:
        _report(exc)
        return 1
    if workflow is Workflow.HELP:
        if not args.args:
            _parser().print_help()
            return 0
        try:  # help VARIABLE or help WORKFLOW
            share = Paths.resolve(share_dir=args.share_dir).default_conf
            for topic in args.args:
                sys.stdout.write(describe(topic, read_reference(share)))
        except UserError as exc:
            _report(exc)
            return 1
        return 0
    if args.debugscripts and not _SET_FLAGS.fullmatch(args.debugscripts):
        _report(UserError(f"--debugscripts {args.debugscripts!r} is not a set of bash option letters",
                          hint="e.g. -D or --debugscripts xv (bash's set -x, set -v)"))  # fmt: skip
        return 1
    try:
        # a workflow's own arguments are checked before anything runs (`mkrescue --help` must not build)
        workflow.parse_arguments(tuple(args.args))
    except SystemExit as exc:  # --help printed the workflow's usage
        return int(exc.code or 0)
    except UserError as exc:
        _report(exc)
        return 1
    options = Options(
        workflow=workflow,
        args=tuple(args.args),
        verbose=args.verbose or debug,
        debug=debug,
        debugscripts=bool(args.debugscripts),
        trace_flags=args.debugscripts or "",
        portable=args.portable,
        simulate=args.simulate,
        step=args.step,
        non_interactive=args.non_interactive,
        expose_secrets=args.expose_secrets,
        kernel_version=args.kernel,
        extra_config=tuple(args.config),
    )
    paths = Paths.resolve(
        config_dir=args.config_dir,
        var_dir=args.var_dir,
        log_dir=args.log_dir,
        share_dir=args.share_dir,
        tmpdir=args.tmpdir,
        cache_dir=args.cache_dir,
    )
    if workflow is Workflow.INSTALL:
        return _install(workflow, tuple(args.args), paths)
    previous = {s: signal.signal(s, _raise_terminated) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        return _run(workflow, options, paths)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def _load_request(
    workflow: Workflow, options: Options, paths: Paths, facts: Facts, build_dir: Path | None, recovery_mode: bool
) -> LoadRequest:
    readonly = {
        "CONFIG_DIR": str(paths.config_dir),
        "SHARE_DIR": str(paths.share_dir),
        "VAR_DIR": str(paths.var_dir),
        "LOG_DIR": str(paths.log_dir),
        "WORKFLOW": workflow.config_name,
        "BUILD_DIR": str(build_dir or ""),
        "ROOTFS_DIR": str(build_dir / "rootfs") if build_dir else "",
        "TMP_DIR": str(build_dir / "tmp") if build_dir else "",
        "TARGET_FS_ROOT": TARGET_FS_ROOT,
        "RECOVERY_MODE": "y" if recovery_mode else "",
        "REARBUILD_VERSION": __version__,
    }
    presets = {
        "HOSTNAME": facts.hostname,
        # ReaR's default.conf: `export TMPDIR=...` in local.conf is how users give the working area room
        "TMPDIR": str(paths.tmpdir),
        "VERBOSE": "y" if options.verbose else "",
        "DEBUG": "y" if options.debug else "",
        "SIMULATE": "y" if options.simulate else "",
        "NON_INTERACTIVE": "y" if options.non_interactive else "",
        "EXPOSE_SECRETS": "y" if options.expose_secrets else "",
    }
    if options.kernel_version:
        presets["KERNEL_VERSION"] = options.kernel_version
    return LoadRequest(
        paths=paths,
        workflow=workflow.config_name,
        facts=facts,
        readonly=readonly,
        presets=presets,
        extra_files=options.extra_config,
        recovery_mode=recovery_mode,
        lenient=workflow in (Workflow.DUMP, Workflow.HELP) or options.simulate,  # they list every problem
        announce=workflow.builds_image or workflow in (Workflow.DUMP, Workflow.HELP),
    )


def _run(workflow: Workflow, options: Options, paths: Paths) -> int:
    facts = detect()
    ctx: Context | None = None
    build_dir: Path | None = None
    area: BuildArea | None = None
    logfile: Path | None = None
    failed = True
    with ExitStack() as stack:
        try:
            if workflow.locking is Locking.EXCLUSIVE and not options.simulate:
                stack.enter_context(RunLock(paths.var_dir / "lock" / "rearbuild.lock", workflow.value))
            logfile = _log_path(paths, facts.hostname, workflow)
            try:
                handler = open_logfile(logfile, debug=options.debug)
            except OSError as exc:
                raise UserError(
                    f"cannot write the log file {logfile}: {exc.strerror}",
                    hint="run as root, or point --log-dir (REARBUILD_LOG_DIR) to a writable directory",
                ) from exc
            stack.callback(close_logfile, handler)
            # a URL typed with user:password@ is refused later, but this line is written first
            argv = [redact_userinfo(a) for a in sys.argv]
            log.info("rearbuild %s %s, pid %d, argv: %s", __version__, workflow.value, os.getpid(), shlex.join(argv))
            if workflow.needs_build_dir and not options.simulate:
                area = _make_build_dir(paths)
                build_dir = area.path
            # ReaR's -p sets RECOVERY_MODE too: recovering from a tarball in a foreign live system
            recovery_mode = paths.rescue_marker.exists() or options.portable
            request = _load_request(workflow, options, paths, facts, build_dir, recovery_mode)
            config, facts = load(request)
            if area is not None and config.text("TMPDIR") != str(paths.tmpdir):
                # ReaR's users `export TMPDIR=...` in local.conf for a working area with room: the build area
                # moves there, and the configuration is read again with the new BUILD_DIR
                if not Path(config.text("TMPDIR")).is_dir():
                    raise UserError(f"{config.where('TMPDIR')}: TMPDIR={config.text('TMPDIR')!r} is not a directory",
                                    hint="create it (ReaR needs it to exist too)")  # fmt: skip
                area.remove()
                paths = dataclasses.replace(paths, tmpdir=Path(config.text("TMPDIR")))
                area = _make_build_dir(paths)
                build_dir = area.path
                again = _load_request(workflow, options, paths, request.facts, build_dir, recovery_mode)
                config, facts = load(dataclasses.replace(again, announce=False))
            ctx = Context(
                options=options,
                paths=paths,
                facts=facts,
                config=config,
                build_dir=build_dir,
                log_file=logfile,
                recovery_mode=recovery_mode,
                cmdline=KernelCmdline.read(),
            )
            if workflow is Workflow.DUMP:
                status = dump(ctx)  # dump VARIABLE: its meaning, state and value
            elif workflow is Workflow.SHELL:
                status = interactive_shell(ctx)
            else:
                engine.execute(workflow, ctx)
                status = ctx.state.exit_status
            failed = False
            return status
        except UserError as exc:
            to_file("%s", traceback.format_exc())
            _report(exc)
            return 1
        except (KeyboardInterrupt, Terminated) as exc:
            log.error("aborted (%s)", "Ctrl-C" if isinstance(exc, KeyboardInterrupt) else exc)
            return 130 if isinstance(exc, KeyboardInterrupt) else 143
        except (InternalError, Exception) as exc:
            to_file("%s", traceback.format_exc())
            where = f"; details in {logfile}" if logfile else ""
            log.error("BUG in rearbuild: %s: %s%s", type(exc).__name__, _cut(str(exc)), where)
            log.error("hint: please report it with the log file")
            return 2
        finally:
            # a lockless run (dump) must not replace the log LOGFILE keeps of a real one
            if ctx is not None and logfile is not None and workflow.locking is not Locking.NONE:
                save_log_as(logfile, ctx.text("LOGFILE"))
            if area is not None:
                if _keep_build_dir(ctx, options, failed):
                    area.keep()
                    notice("build area kept: %s", area.path)
                else:
                    area.remove()
    raise InternalError("unreachable")  # pragma: no cover
