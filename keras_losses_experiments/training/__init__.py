"""Training infrastructure: where training runs, exact resume, the harness of the example programs, recipes."""
