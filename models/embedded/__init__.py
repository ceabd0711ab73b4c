"""Building blocks of the embedded engine (no weights): guided filtering, colour models, motion."""
