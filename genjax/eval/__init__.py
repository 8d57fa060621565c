"""Evaluation: sample-quality metrics on features of genjax's own domain classifiers."""
