"""Provides dataset building, the review store and exports."""
