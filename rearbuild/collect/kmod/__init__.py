"""Kernel modules and firmware for the rescue image, chosen the way ReaR's MODULES variables say.

Everything is read as text from the module indexes of <sysroot>/lib/modules/KVER (modules.dep,
modules.softdep, modules.builtin, modules.alias, modules.order), the modprobe.d configuration of the
sysroot and the .modinfo ELF section of each module file: no modprobe or modinfo process per module.
The resolution follows libkmod (kmod 30, Debian 12) so that what we copy is exactly what `modprobe`
will load in the rescue system:

- names: '-' and '_' are the same (libkmod `underscores()`), except inside [...] of a glob;
- lookup of a name (kmod_module_new_from_lookup): modprobe.d `alias` lines, then modules.dep, then
  modules.alias (globs), then modules.builtin;
- softdeps (kmod_module_get_softdeps): the FIRST `softdep` entry whose module pattern matches wins.
  Entries come from the modprobe.d files and from modules.softdep, which libkmod sorts with the .conf
  files by file name (so aliases.conf beats modules.softdep, zzz.conf does not). Words before `pre:`
  or `post:` are ignored. modprobe never reads `softdep=` from .modinfo itself (checked with kmod 30:
  without modules.softdep, `modprobe --show-depends ext4` drops crc32c); only when a tree has no
  modules.softdep at all do we take them from .modinfo, because the depmod run that writes the rescue
  image's indexes will turn them into a modules.softdep there.
- probe order (__kmod_module_get_probe_list): the dependencies of modules.dep in reverse line order,
  each preceded by its softdep `pre:` modules and followed by its `post:` modules, then the module.

Compressed modules are read as rearbuild.compression says (modinfo.py); the package has one module per concept:
names, modinfo, index (modules.dep and friends), selection (MODULES), firmware, depmod and image (all together).
"""
