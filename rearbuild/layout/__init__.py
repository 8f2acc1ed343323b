"""The disk layout: typed records, ReaR's disklayout.conf, dependencies and the creation order."""
