"""Provides the studio's screens: one per mode, plus dialogs and the help screen."""
