"""The disk layout of a running system: the tools asked (probe), their output parsed (blockfacts, stackfacts,
fsfacts), the layout model assembled (capture with disks, stacks, filesystems) and saved (save)."""
