"""The engine: what drives the plugins: the pipeline file and its checks, the plugin registry, the
pipeline, delivery, status and metrics, and the process's logging. It sits above the plugins."""
