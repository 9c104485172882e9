"""pytest plugins of the workbench's test suite (loaded with `-p` from pyproject.toml)."""
