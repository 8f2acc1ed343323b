"""Building the rescue system: rootfs composition, the initrd writer and its compression."""
