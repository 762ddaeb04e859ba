"""Developer tools: the PoD simulator, its event generator, the demo."""
