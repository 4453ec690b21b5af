#!/usr/bin/env python3
"""contrib/bench/delay-proxy.py: a TCP proxy that delays every byte by a fixed time.

Usage: delay-proxy.py TARGET_PORT DELAY_MS PORT_FILE

Listens on 127.0.0.1 (a free port, written to PORT_FILE once listening) and forwards each
connection to 127.0.0.1:TARGET_PORT, holding the bytes of each direction for DELAY_MS, so a
round trip takes 2 * DELAY_MS more. The bench puts it in front of the FTP server's control
port only: the data connections go to the passive ports directly, so what it measures is
how many control round trips a client needs (the cost of a WAN link for small files), not
bandwidth. Runs until killed.
"""

import asyncio
import sys
import time


async def pump(reader, writer, delay):
    """Copies reader to writer, each chunk delivered `delay` seconds after it arrived."""
    queue = asyncio.Queue()

    async def receive():
        while True:
            data = await reader.read(65536)
            await queue.put((time.monotonic() + delay, data))
            if not data:
                return

    async def send():
        while True:
            due, data = await queue.get()
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            if not data:
                writer.close()
                return
            writer.write(data)
            await writer.drain()

    await asyncio.gather(receive(), send(), return_exceptions=True)


async def main():
    target, delay, port_file = int(sys.argv[1]), float(sys.argv[2]) / 1000, sys.argv[3]

    async def handle(client_reader, client_writer):
        try:
            server_reader, server_writer = await asyncio.open_connection("127.0.0.1", target)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(
            pump(client_reader, server_writer, delay),
            pump(server_reader, client_writer, delay),
            return_exceptions=True,
        )

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    with open(port_file, "w", encoding="ascii") as f:
        f.write(f"{server.sockets[0].getsockname()[1]}\n")
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
