"""The runtime: configuration and options, the pipeline, state, status and metrics."""
