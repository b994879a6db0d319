"""objectives stage."""
