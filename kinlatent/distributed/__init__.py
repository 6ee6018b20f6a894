"""Ray glue: cluster connection and remote tasks."""
