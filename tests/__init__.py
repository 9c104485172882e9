"""The workbench's tests. A regular package, so that `tests.*` always means this folder: some
installed packages (mleap) ship a top-level `tests` package of their own, which would hide a namespace one."""
