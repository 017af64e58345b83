"""Provides persona chat, UI-free: the generation engine, a run's persona, sessions and the REPL."""
