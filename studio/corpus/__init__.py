"""Provides corpus reading: encoding detection, parser choice, rosters."""
