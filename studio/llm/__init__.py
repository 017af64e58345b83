"""Provides the one LLM layer of the studio: an OpenAI-compatible endpoint or a local model, for
augmentation strategies and corpus parsers alike, and tolerant reading of what a model wrote."""
