"""An HTTP CONNECT proxy on loopback for tests: it tunnels bytes and remembers each target."""

from __future__ import annotations

import asyncio


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


class ConnectProxy:
    def __init__(self) -> None:
        self.tunnels: list[str] = []
        self.methods: list[bytes] = []  # asserted by the tests: a failure inside a callback is only logged

    async def start(self) -> ConnectProxy:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"
        return self

    def stop(self) -> None:
        self.server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await reader.readuntil(b"\r\n\r\n")
        method, target = request.split(b" ")[:2]
        self.methods.append(method)
        host, port = target.decode().rsplit(":", 1)
        upstream_reader, upstream_writer = await asyncio.open_connection(host, int(port))
        self.tunnels.append(target.decode())
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await asyncio.gather(_pipe(reader, upstream_writer), _pipe(upstream_reader, writer))
