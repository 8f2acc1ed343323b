"""The shared-library closure of programs, computed the way glibc's ld.so loads them, without running ldd.

ldd runs the program's interpreter, which can execute code from the file (ReaR lib/linux-functions.sh warns
about this) and cannot look inside a sysroot. Instead this package emulates glibc's elf/dl-load.c and
elf/dl-deps.c against a file tree:

- PT_INTERP is loaded first; DT_NEEDED entries are loaded breadth-first, and a name is loaded once per
  process: it matches an object loaded under that name or with that DT_SONAME (dl-load.c _dl_map_object),
  and a file reached under two names is one object (same device and inode).
- Search order for a name without '/' (dl-load.c _dl_map_object): if the requesting object has no
  DT_RUNPATH, the DT_RPATH of the requester, of the object that loaded it, and so on up to the executable;
  then (LD_LIBRARY_PATH, ignored: a rescue system does not have the build shell's environment) the
  requester's own DT_RUNPATH; then the ld.so cache, emulated by reading /etc/ld.so.conf and its includes;
  then the trusted system directories. DF_1_NODEFLIB skips the last two. An object with DT_RUNPATH has no
  DT_RPATH (get-dynamic-info.h).
- $ORIGIN, $LIB and $PLATFORM are substituted (dl-load.c _dl_dst_substitute); every search directory is
  preceded by its glibc-hwcaps subdirectories.
- A candidate of the wrong ELF class or machine is skipped and the search goes on (dl-load.c open_verify);
  any other unusable file (not ELF, wrong byte order or OS ABI) stops the search for that name.

Every path here is an image path: absolute, inside the tree ("sysroot"); absolute symlink targets are read
relative to the tree's root, as the rescue system (or a chroot) will see them.

Modules: tree (Tree, FileKind, Symlink, ResolvedPath), disk (DiskTree: a directory on disk), mapped
(MappedTree, ImageLink: a planned rootfs), which (find_program), conf (ld.so.conf), nsswitch, dlopens
(KNOWN_DLOPENS), caps (LoaderCaps), closure (the result types), state (Process: one emulated process),
search (the directory search), load (DT_NEEDED and dlopen loading), resolver (Resolver, resolve_closure),
verify (verify_rootfs).
"""
