"""Ships the factory's data inside the wheel.

recipes/, skel/, images/ and conf/ live at the top of the checkout (where a user or packager sees the factory's
parts, as ReaR's users see /usr/share/rear) and go into the wheel as rearbuild/share/<part>. An editable install
and a run from the checkout read them in place (rearbuild.paths), so nothing is copied there.
"""

import shutil
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

DATA_DIRS = ("recipes", "skel", "images", "conf")


class BuildWithShare(build_py):  # type: ignore[misc]
    def run(self) -> None:
        if not getattr(self, "editable_mode", False):
            # setuptools reuses build/lib between builds and never deletes there: a module removed from the
            # sources would live on in every later wheel (and in the rescue image a container build makes)
            shutil.rmtree(Path(self.build_lib) / "rearbuild", ignore_errors=True)
        super().run()
        if getattr(self, "editable_mode", False):
            return
        here = Path(__file__).resolve().parent
        for part in DATA_DIRS:
            target = Path(self.build_lib) / "rearbuild" / "share" / part
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(here / part, target, symlinks=True, ignore=shutil.ignore_patterns("__pycache__"))
        # man rearbuild and the bash completion, generated from the sources being packaged (rearbuild install
        # writes the same into PREFIX/share); importing the command line needs none of the dependencies
        sys.path.insert(0, str(here))
        from rearbuild import __version__
        from rearbuild.cli import parser
        from rearbuild.config.reference import read_reference
        from rearbuild.hostinstall import documentation

        docs = documentation(parser(), read_reference(here / "conf" / "default.conf"), __version__)
        for relative, text in docs.items():
            target = Path(self.build_lib) / "rearbuild" / "share" / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        # the builder environment of `rearbuild build --container` (rearbuild.container)
        shutil.copyfile(here / "Containerfile", Path(self.build_lib) / "rearbuild" / "share" / "Containerfile")


setup(cmdclass={"build_py": BuildWithShare})
