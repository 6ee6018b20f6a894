"""Importable, testable stage functions behind the CLI and the Hydra jobs."""
