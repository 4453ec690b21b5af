#!/usr/bin/env python3
"""contrib/bench/delay-proxy.py: an FTP proxy that emulates a long link and counts commands.

Usage:
  delay-proxy.py --upstream PORT --rtt-ms MS --port-file FILE [options]

It listens on 127.0.0.1 (a free port, written to FILE once it listens) and forwards every
control connection to 127.0.0.1:PORT, the FTP server. Python 3 standard library only.

What it models (see contrib/bench/README.md, "WAN mode"):

* Propagation delay: every chunk of bytes and every FIN (end of stream) is held for RTT/2 in
  each direction, in order, on control AND data connections.
* TCP handshake: the proxy accepts at once (the kernel does), but opens its upstream
  connection only 1.5 RTT after the client connected, and nothing the client sent reaches the
  server before that. This is when a real server's accept() returns (SYN 0.5 RTT, SYN-ACK back
  at 1 RTT, final ACK and first data at 1.5 RTT), so the server's first byte reaches the client
  2 RTT after connect(), as on a real link. The one thing not modelled: the client's connect()
  itself returns at once instead of after 1 RTT, which no client measures on its own.
* A TCP window: at most --window-kb bytes per direction and connection are "in flight"; a
  byte counts until RTT after it was received (it travels RTT/2, its ACK RTT/2 back), so one
  connection carries at most window/RTT. 0 = no limit (memory then grows with the server's speed).
* Passive mode: 227 (PASV) and 229 (EPSV) replies are rewritten to a port of the proxy that
  forwards, with the same delays, to the port the server named. Active mode (PORT/EPRT) is not
  supported. Not modelled: ACK timing (a server that waits for ACKs, e.g. vsftpd's lingering
  close, gets them at once), slow start, loss, bandwidth limits other than the window.
* --control-only: only the control connection goes through the proxy (no rewrite: the data
  connections go to the server's passive ports directly, undelayed). --no-connect-delay: no
  handshake delay (the upstream is connected as soon as the client is).

Counting. Each control connection counts:
  commands  command lines the client sent (every line: USER, PASS, EPSV, ... QUIT)
  turns     client bursts that follow a server reply: commands sent after a reply line (the
            greeting included) was delivered to the client since its previous command. A client
            that waits for each reply makes one turn per command; one that pipelines N commands
            in one go makes one turn for the batch (one that keeps writing while replies arrive
            makes one per burst). Each turn costs at least 1 RTT.
  data      data connections opened through a rewritten 227/229 port (each costs >= 1 RTT)
  verb.X    command lines per verb (RETR, STOR, MDTM, LIST, MLSD, ...)
Counts stop at AUTH TLS (the rest of that connection is encrypted).

Admin port (its number is the second line of FILE; one request per line, one reply line):
  reset       zero all counters (connections stay open) -> "ok"
  dump PATH   write the counters since the last reset to PATH -> "ok"
  quit        write --stats (if given) and exit -> "ok"
On SIGTERM/SIGINT the counters are written to --stats (if given) before exiting.

Stats file: "key value" lines (commands, turns, control_connections, data_connections,
bytes_up, bytes_down, verb.RETR, ...) and one "conn.N commands=.. turns=.. data=.." line per
control connection that was active since the reset. --log FILE writes every command and reply
line with a timestamp and connection number (PASS arguments blanked).
"""

import argparse
import asyncio
import os
import re
import signal
import sys
import time

RE_227 = re.compile(rb"^227([ -])(.*?)(\d+),(\d+),(\d+),(\d+),(\d+),(\d+)(.*)$", re.S)
RE_229 = re.compile(rb"^229([ -])(.*)\(\|\|\|(\d+)\|\)(.*)$", re.S)
CHUNK = 256 * 1024


class Counters:
    """Counters since the last reset; per control connection and in total."""

    def __init__(self):
        self.reset()

    def reset(self):
        self.t0 = time.monotonic()
        self.conns = {}  # id -> dict
        self.total = {"commands": 0, "turns": 0, "data_connections": 0, "control_connections": 0,
                      "bytes_up": 0, "bytes_down": 0}
        self.verbs = {}

    def conn(self, cid):
        c = self.conns.get(cid)
        if c is None:
            c = self.conns[cid] = {"commands": 0, "turns": 0, "data": 0, "up": 0, "down": 0}
        return c

    def add(self, cid, key, total_key, n=1):
        self.conn(cid)[key] += n
        self.total[total_key] += n

    def verb(self, v):
        self.verbs[v] = self.verbs.get(v, 0) + 1

    def render(self, rtt_ms):
        out = [f"rtt_ms {rtt_ms:g}", f"elapsed {time.monotonic() - self.t0:.6f}"]
        out += [f"{k} {v}" for k, v in self.total.items()]
        out += [f"verb.{k} {v}" for k, v in sorted(self.verbs.items())]
        for cid, c in sorted(self.conns.items()):
            out.append(f"conn.{cid} commands={c['commands']} turns={c['turns']} data={c['data']} "
                       f"bytes_up={c['up']} bytes_down={c['down']}")
        return "\n".join(out) + "\n"


class Proxy:
    def __init__(self, args):
        self.args = args
        self.rtt = args.rtt_ms / 1000.0
        self.half = self.rtt / 2
        self.connect_delay = 0.0 if args.no_connect_delay else 1.5 * self.rtt
        self.window = args.window_kb * 1024
        self.stats = Counters()
        self.next_id = 0
        self.log = open(args.log, "a", encoding="utf-8", errors="replace") if args.log else None
        self.tasks = set()  # strong references to running tasks
        self.loop = None

    def spawn(self, coro):
        t = asyncio.ensure_future(coro)
        self.tasks.add(t)
        t.add_done_callback(self.tasks.discard)
        return t

    def logline(self, cid, arrow, line):
        if self.log is None:
            return
        text = line.rstrip(b"\r\n").decode("utf-8", "replace")
        if arrow == ">" and text[:5].upper() == "PASS ":
            text = "PASS ****"
        self.log.write(f"{time.monotonic() - self.stats.t0:10.4f} c{cid} {arrow} {text}\n")

    # ----- forwarding with delay ----------------------------------------------------------
    async def pipe(self, reader, own, writer_fut, not_before, on_chunk=None, on_deliver=None,
                   count=None):
        """Copies reader to the writer that writer_fut yields. Each chunk is written RTT/2 after
        it was read, but not before not_before (loop time: the upstream handshake). on_chunk(data)
        may transform a chunk (async, returns bytes); on_deliver(data) runs when it is written.
        count(n) accounts bytes. own: the writer of the reader's socket, reset if the other side
        fails. Ends after forwarding EOF (as a FIN) or on an error."""
        loop = self.loop
        queue = asyncio.Queue()
        inflight = [0]
        credit = asyncio.Event()
        broken = []

        def release(n):
            inflight[0] -= n
            credit.set()

        async def receive():
            try:
                while True:
                    while self.window and inflight[0] >= self.window and not broken:
                        credit.clear()
                        await credit.wait()
                    if broken:
                        return
                    data = await reader.read(CHUNK)
                    due = max(loop.time() + self.half, not_before)
                    if on_chunk is not None:
                        # b"" (EOF) asks for whatever the parser still holds
                        tail = await on_chunk(data)
                        if tail:
                            inflight[0] += len(tail)
                            if count:
                                count(len(tail))
                            await queue.put((due, tail))
                        if data:
                            continue
                    if data:
                        inflight[0] += len(data)
                        if count:
                            count(len(data))
                    await queue.put((due, data))
                    if not data:
                        return
            except (ConnectionError, OSError):
                await queue.put((loop.time() + self.half, None))  # a reset travels too

        async def send():
            writer = await writer_fut
            try:
                while True:
                    due, data = await queue.get()
                    wait = due - loop.time()
                    if wait > 0:
                        await asyncio.sleep(wait)
                    if data is None:
                        writer.transport.abort()
                        return
                    if not data:
                        if writer.can_write_eof():
                            writer.write_eof()
                        return
                    writer.write(data)
                    if on_deliver is not None:
                        on_deliver(data)
                    loop.call_later(self.half, release, len(data))
                    await writer.drain()
            except (ConnectionError, OSError):
                # the receiver is gone: stop reading and reset the sender, as TCP would
                broken.append(1)
                credit.set()
                own.transport.abort()

        await asyncio.gather(receive(), send(), return_exceptions=True)

    async def connect_upstream(self, port, at):
        """Connects to the server at loop time `at` (the emulated handshake)."""
        wait = at - self.loop.time()
        if wait > 0:
            await asyncio.sleep(wait)
        return await asyncio.open_connection("127.0.0.1", port, limit=CHUNK)

    async def relay(self, creader, cwriter, port, ctl=None):
        """Relays one accepted connection to 127.0.0.1:port in both directions. ctl: the
        control-connection state object for control connections (parsing and counting)."""
        loop = self.loop
        at = loop.time() + self.connect_delay
        up_fut = loop.create_future()
        cw_fut = loop.create_future()
        cw_fut.set_result(cwriter)

        async def up_then_down():
            try:
                ureader, uwriter = await self.connect_upstream(port, at)
            except OSError:
                up_fut.cancel()
                await asyncio.sleep(max(0.0, at - loop.time()) + self.half)
                cwriter.transport.abort()
                return
            up_fut.set_result(uwriter)
            await self.pipe(ureader, uwriter, cw_fut, 0.0,
                            on_chunk=ctl.from_server if ctl else None,
                            on_deliver=ctl.delivered if ctl else None,
                            count=ctl.count_down if ctl else None)

        down = self.spawn(up_then_down())
        await self.pipe(creader, cwriter, up_fut, at,
                        on_chunk=ctl.from_client if ctl else None,
                        count=ctl.count_up if ctl else None)
        await asyncio.gather(down, return_exceptions=True)
        # Both directions have delivered their FIN (or failed): close both sockets.
        if ctl:
            ctl.close()
        writers = [cwriter]
        if up_fut.done() and not up_fut.cancelled():
            writers.append(up_fut.result())
        for w in writers:
            w.close()

    # ----- control connections ------------------------------------------------------------
    async def on_control(self, creader, cwriter):
        self.next_id += 1
        ctl = Control(self, self.next_id)
        await self.relay(creader, cwriter, self.args.upstream, ctl)

    async def open_data_listener(self, ctl, upstream_port):
        """A one-connection listener forwarding to the server's passive port."""
        done = []

        async def on_data(creader, cwriter):
            if done:
                cwriter.transport.abort()
                return
            done.append(1)
            server.close()
            ctl.proxy.stats.add(ctl.cid, "data", "data_connections")
            await self.relay(creader, cwriter, upstream_port)

        server = await asyncio.start_server(on_data, "127.0.0.1", 0, limit=CHUNK)
        ctl.listeners.append(server)
        return server.sockets[0].getsockname()[1]


class Control:
    """Parses one control connection: counts command lines and turns, rewrites 227/229."""

    def __init__(self, proxy, cid):
        self.proxy, self.cid = proxy, cid
        self.stats = proxy.stats
        self.up_buf = b""
        self.down_buf = b""
        self.deliver_buf = b""
        self.replied = False  # a reply line reached the client since its last command
        self.tls = False  # AUTH was sent
        self.raw = False  # its 234 passed: the rest is TLS
        self.listeners = []
        self.stats.add(cid, "commands", "control_connections", 0)
        self.stats.total["control_connections"] += 1

    def count_up(self, n):
        self.stats.add(self.cid, "up", "bytes_up", n)

    def count_down(self, n):
        self.stats.add(self.cid, "down", "bytes_down", n)

    async def from_client(self, data):
        if self.tls or not data:
            return data
        self.up_buf += data
        *lines, self.up_buf = self.up_buf.split(b"\n")
        for line in lines:
            cmd = line.strip()
            if not cmd:
                continue
            verb = cmd.split(b" ", 1)[0].upper().decode("ascii", "replace")
            if self.replied:
                self.stats.add(self.cid, "turns", "turns")
                self.replied = False
            self.stats.add(self.cid, "commands", "commands")
            self.stats.verb(verb)
            self.proxy.logline(self.cid, ">", line)
            if verb == "AUTH":
                self.tls = True  # the reply to it is the last plaintext we can read
        return data

    async def from_server(self, data):
        """Whole lines only (a partial line waits for its end); rewrites passive replies."""
        if self.raw:
            return data
        if not data:  # EOF: forward an unterminated last line as it is
            rest, self.down_buf = self.down_buf, b""
            return rest
        self.down_buf += data
        *lines, self.down_buf = self.down_buf.split(b"\n")
        out = []
        for i, line in enumerate(lines):
            line += b"\n"
            if self.tls and line.startswith(b"234"):
                # TLS starts after this line: pass everything after it through unparsed
                self.raw = True
                out.append(line)
                out.append(b"\n".join(lines[i + 1:] + [self.down_buf]) if i + 1 < len(lines) else self.down_buf)
                self.down_buf = b""
                break
            if self.proxy.args.control_only:
                pass
            elif m := RE_229.match(line):
                p = await self.proxy.open_data_listener(self, int(m.group(3)))
                line = b"229" + m.group(1) + m.group(2) + b"(|||%d|)" % p + m.group(4)
            elif m := RE_227.match(line):
                up = int(m.group(7)) * 256 + int(m.group(8))
                p = await self.proxy.open_data_listener(self, up)
                line = (b"227" + m.group(1) + m.group(2) + b"127,0,0,1,%d,%d" % (p >> 8, p & 255)
                        + m.group(9))
            out.append(line)
        return b"".join(out)

    def delivered(self, data):
        """Reply lines as the client sees them: when the proxy hands them over."""
        if self.raw:
            return
        self.deliver_buf += data
        *lines, self.deliver_buf = self.deliver_buf.split(b"\n")
        for line in lines:
            self.proxy.logline(self.cid, "<", line)
            self.replied = True

    def close(self):
        for s in self.listeners:
            s.close()


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--upstream", type=int, required=True, help="the FTP server's control port on 127.0.0.1")
    ap.add_argument("--rtt-ms", type=float, required=True, help="emulated round trip (ms)")
    ap.add_argument("--port-file", required=True, help="written once listening: control port, admin port")
    ap.add_argument("--window-kb", type=int, default=0, help="bytes in flight per direction (KiB); 0 = no limit")
    ap.add_argument("--control-only", action="store_true", help="do not rewrite 227/229 (data goes direct)")
    ap.add_argument("--no-connect-delay", action="store_true", help="no 1.5 RTT handshake delay")
    ap.add_argument("--stats", help="write the counters here at exit")
    ap.add_argument("--log", help="append every command/reply line here")
    return ap.parse_args()


async def main():
    args = parse_args()
    proxy = Proxy(args)
    proxy.loop = asyncio.get_running_loop()
    stop = asyncio.Event()

    def write_stats(path):
        with open(path, "w", encoding="ascii") as f:
            f.write(proxy.stats.render(args.rtt_ms))

    async def on_admin(reader, writer):
        try:
            while True:
                line = (await reader.readline()).decode("utf-8", "replace").strip()
                if not line:
                    break
                word, _, rest = line.partition(" ")
                if word == "reset":
                    proxy.stats.reset()
                    if proxy.log:
                        proxy.log.write("---- reset ----\n")
                        proxy.log.flush()
                    reply = "ok"
                elif word == "dump" and rest:
                    try:
                        write_stats(rest)
                        reply = "ok"
                    except OSError as e:
                        reply = f"error {e}"
                    if proxy.log:
                        proxy.log.flush()
                elif word == "quit":
                    stop.set()
                    reply = "ok"
                else:
                    reply = "error unknown request"
                writer.write(reply.encode() + b"\n")
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    ctl_server = await asyncio.start_server(proxy.on_control, "127.0.0.1", 0, limit=CHUNK)
    admin_server = await asyncio.start_server(on_admin, "127.0.0.1", 0)
    for sig in (signal.SIGTERM, signal.SIGINT):
        proxy.loop.add_signal_handler(sig, stop.set)
    with open(args.port_file + ".tmp", "w", encoding="ascii") as f:
        f.write(f"{ctl_server.sockets[0].getsockname()[1]}\n{admin_server.sockets[0].getsockname()[1]}\n")
    os.replace(args.port_file + ".tmp", args.port_file)  # appears complete
    await stop.wait()
    if args.stats:
        write_stats(args.stats)
    if proxy.log:
        proxy.log.close()
    ctl_server.close()
    admin_server.close()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(130)
