"""Management commands of the generations app."""
