"""The command line (`python -m studio ...`): `main` builds the parser from one module per command group
(`data`: ingest, `train`, `chat`, `evaluate`: eval, `personas`: list, show, versions, export, push ...);
`options` turns the settings dataclasses into flags."""
