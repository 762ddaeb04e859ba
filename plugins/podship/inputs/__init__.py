"""Inputs: where records come from (the PoD Log API, a Forward peer)."""
