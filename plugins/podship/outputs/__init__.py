"""Outputs: where records go (stdout lines, Fluent Forward, syslog)."""
