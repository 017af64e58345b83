"""Provides the studio's widgets; each file holds one widget with its DEFAULT_CSS."""
