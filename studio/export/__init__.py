"""Provides ``persona-studio export``: the adapter, a merged model plain transformers loads, a model card."""
