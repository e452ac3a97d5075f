"""Function-calling corpus: real APIs harvested from installed modules."""
