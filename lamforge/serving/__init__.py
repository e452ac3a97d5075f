"""lamforge serving stage."""
