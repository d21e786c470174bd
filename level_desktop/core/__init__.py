"""Level's Qt-free pipeline: one module per stage; the CLI, tests, benchmarks and GUI all drive it."""
