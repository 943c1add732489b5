"""A persona and where it lives: the registry (names, slugs, `NAME@vN`, versions, the lock), its summary,
the model card, export/import as a zip or a Character Card, and the Hugging Face Hub."""
