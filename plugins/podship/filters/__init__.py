"""Filters: the log-filter rules stage."""
