"""dlgrade: auto-graded homework for a deep-learning course's sequence-model unit."""

__version__ = "0.1.0"
