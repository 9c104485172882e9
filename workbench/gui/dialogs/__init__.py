"""Dialogs: trust, about, export (built from the converter registry), errors."""
