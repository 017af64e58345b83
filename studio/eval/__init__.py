"""Provides the pieces of persona evaluation: text metrics, the style classifier and the report.

The orchestration (models, held-out items, probes) is :mod:`studio.eval.evaluate`.
"""
