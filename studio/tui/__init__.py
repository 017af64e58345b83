"""Provides the studio's terminal UI (Textual): the app shell, its screens and widgets."""
