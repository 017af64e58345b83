"""Provides ``persona-studio export``: adapter, merged model, GGUF + Modelfile, vLLM folder."""
