"""The workbench's resources, installed as the package ``workbench.resources``.

This top-level folder is mapped onto ``workbench.resources`` by ``[tool.setuptools.package-dir]`` in
pyproject.toml, so the wheel and the editable install both reach it with
``importlib.resources.files("workbench.resources")``:

- ``icons/``: the app's SVG icons (``currentColor`` is drawn in the theme's colour);
- ``styles/``: the ordered QSS files and the images they use;
- ``desktop/``: the freedesktop integration (``.desktop`` entry, AppStream metainfo, shared-mime-info
  package, hicolor icons rendered from ``icons/app.svg`` by ``scripts/make_icons.py``), installed for a
  user by ``workbench desktop install``.
"""
