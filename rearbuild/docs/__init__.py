"""Documentation generated from the code: the man page and the bash completion (rearbuild install puts them in
place)."""
