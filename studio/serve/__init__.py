"""Provides ``persona-studio serve``: an OpenAI-compatible chat API over a persona."""
