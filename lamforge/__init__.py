"""lamforge: forge a small Large Action Model for your own environment, and run it."""

__version__ = "0.1.0"
