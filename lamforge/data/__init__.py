"""lamforge data stage."""
