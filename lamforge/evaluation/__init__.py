"""lamforge evaluation stage."""
