"""A recording TCP proxy on loopback: what a real Forward peer sends and answers, byte for byte.

    python -m tests.interop.record --listen 24300 --to 127.0.0.1:24224 --out tests/fixtures/forward/NAME

Connection N (up to --connections; later ones pass through) is written to `NAME.N.client.bin` (bytes from the client) and `NAME.N.server.bin`
(bytes from the server). Used once, by hand, to make the fixtures in tests/fixtures/forward/; the
codec tests replay those files, so CI checks podship against what real collectors put on the wire.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
from pathlib import Path


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: Path) -> None:
    with path.open("wb") as out:
        while data := await reader.read(1 << 16):
            out.write(data)
            out.flush()
            writer.write(data)
            await writer.drain()
    writer.close()


async def main(listen: int, target: str, out: str, limit: int) -> None:
    host, _, port = target.rpartition(":")
    serial = itertools.count(1)

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        n = next(serial)
        up_reader, up_writer = await asyncio.open_connection(host, int(port))
        base = f"{out}.{n}" if n <= limit else "/dev/null"  # later connections pass through unrecorded
        await asyncio.gather(
            _pump(reader, up_writer, Path(f"{base}.client.bin" if n <= limit else base)),
            _pump(up_reader, writer, Path(f"{base}.server.bin" if n <= limit else base)),
            return_exceptions=True,
        )

    server = await asyncio.start_server(serve, "127.0.0.1", listen)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", type=int, required=True)
    parser.add_argument("--to", required=True, help="host:port of the real receiver")
    parser.add_argument("--out", required=True, help="path prefix of the recorded files")
    parser.add_argument("--connections", type=int, default=1, help="record this many connections")
    args = parser.parse_args()
    asyncio.run(main(args.listen, args.to, args.out, args.connections))
