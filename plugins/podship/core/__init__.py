"""The sans-I/O core: no asyncio, sockets, files or clocks. Time is always an argument."""
