"""Views of the main window; each wraps a core object and is runnable on its own."""
