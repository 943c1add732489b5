"""The command line (`python -m studio ...`): `main` builds the parser, one module per command group."""
