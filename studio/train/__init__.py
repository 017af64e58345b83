"""Provides LoRA training: data encoding, the recipe, run events and the run process."""
