"""Everything that is not drawing. Never imports Qt (tests/core/test_no_qt.py enforces it)."""
