//! A long link between ftpfs and a test server: a TCP proxy that holds every chunk of bytes,
//! and the end of each stream, for half a round trip in each direction, on the control
//! connection and on the passive data connections (like `contrib/bench/delay-proxy.py`,
//! without its TCP window and its command counts).
//!
//! - The control connection: the server's 227 (PASV) and 229 (EPSV) replies are rewritten to
//!   name a port of the proxy, which forwards one data connection, with the same delays, to
//!   the port the server named. Active mode (PORT/EPRT) is not supported.
//! - A TCP handshake: the server sees a connection 1.5 round trips after the client made it
//!   (SYN, SYN-ACK, ACK), and nothing the client sent reaches it before then, so a new
//!   connection's first reply arrives two round trips after `connect()`, as on a real link.
//! - Bytes keep their order; each chunk is delivered half a round trip after it arrived (or
//!   when the upstream connection exists, if later). No bandwidth limit.
//!
//! The proxy runs until it is dropped; connections already open then run to their end.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use super::Server;

/// How long a rewritten passive port waits for the client to connect.
const DATA_ACCEPT_TIMEOUT: Duration = Duration::from_secs(30);

/// What one direction of a connection carries: bytes, or the end of the stream, each with
/// the time it is to be delivered.
type Chunk = (Instant, Option<Vec<u8>>);

/// A delay proxy in front of one FTP server (see the module doc).
pub struct DelayProxy {
    port: u16,
    stop: Arc<AtomicBool>,
    data: Arc<AtomicUsize>,
}

impl DelayProxy {
    /// Listens on a free port of 127.0.0.1 and forwards to `127.0.0.1:upstream` with `rtt`.
    pub fn start(upstream: u16, rtt: Duration) -> DelayProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the delay proxy");
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let data = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&data);
        thread::Builder::new()
            .name(format!("delay-proxy-{port}"))
            .spawn(move || {
                for client in listener.incoming() {
                    if stopped.load(Ordering::SeqCst) {
                        break;
                    }
                    if let Ok(client) = client {
                        relay(client, upstream, rtt, Some(Arc::clone(&counted)));
                    }
                }
            })
            .expect("start the delay proxy");
        DelayProxy { port, stop, data }
    }

    /// Data connections forwarded so far (through rewritten 227/229 ports).
    pub fn data_connections(&self) -> usize {
        self.data.load(Ordering::SeqCst)
    }

    /// The proxy's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `server.url()` through the proxy.
    pub fn url(&self, server: &Server) -> String {
        server.url().replacen(
            &format!("@127.0.0.1:{}/", server.port()),
            &format!("@127.0.0.1:{}/", self.port),
            1,
        )
    }
}

impl Drop for DelayProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the acceptor so that it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// Forwards `client` to `127.0.0.1:upstream` with the delays. A control connection
/// (`control`: where its data connections are counted) has the server's passive replies
/// rewritten.
fn relay(client: TcpStream, upstream: u16, rtt: Duration, control: Option<Arc<AtomicUsize>>) {
    let half = rtt / 2;
    let connected_at = Instant::now();
    let (up_tx, up_rx) = channel::<Chunk>();
    let client_in = client.try_clone().expect("clone a client socket");
    // The client's bytes are timed from when they arrive, even before the server has the
    // connection.
    thread::spawn(move || pump_in(client_in, up_tx, half, None));
    thread::spawn(move || {
        let handshake = rtt + half;
        thread::sleep(handshake.saturating_sub(connected_at.elapsed()));
        let server = match TcpStream::connect(("127.0.0.1", upstream)) {
            Ok(s) => s,
            Err(_) => {
                let _ = client.shutdown(Shutdown::Both);
                return;
            }
        };
        let _ = server.set_nodelay(true);
        let _ = client.set_nodelay(true);
        let (down_tx, down_rx) = channel::<Chunk>();
        let server_in = server.try_clone().expect("clone a server socket");
        let client_out = client.try_clone().expect("clone a client socket");
        let rewrite = control.map(|counted| (rtt, counted));
        thread::spawn(move || pump_in(server_in, down_tx, half, rewrite));
        thread::spawn(move || pump_out(down_rx, client_out));
        pump_out(up_rx, server);
    });
}

/// Reads `from` and queues what arrives for delivery `delay` later; with `rewrite` (the
/// round trip), reads it as FTP replies and points passive replies at a new forwarding port.
fn pump_in(
    mut from: TcpStream,
    to: Sender<Chunk>,
    delay: Duration,
    rewrite: Option<(Duration, Arc<AtomicUsize>)>,
) {
    let mut buf = vec![0u8; 64 * 1024];
    let mut line = Vec::new();
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let due = Instant::now() + delay;
        let Some((rtt, counted)) = &rewrite else {
            if to.send((due, Some(buf[..n].to_vec()))).is_err() {
                return;
            }
            continue;
        };
        line.extend_from_slice(&buf[..n]);
        while let Some(end) = line.iter().position(|&b| b == b'\n') {
            let rest = line.split_off(end + 1);
            let whole = std::mem::replace(&mut line, rest);
            if to
                .send((due, Some(passive_rewritten(whole, *rtt, counted))))
                .is_err()
            {
                return;
            }
        }
    }
    if !line.is_empty() {
        let _ = to.send((Instant::now() + delay, Some(line)));
    }
    let _ = to.send((Instant::now() + delay, None));
}

/// Delivers the queued chunks to `to`, each at its time; the end of the stream half-closes.
fn pump_out(from: Receiver<Chunk>, mut to: TcpStream) {
    for (due, chunk) in from {
        thread::sleep(due.saturating_duration_since(Instant::now()));
        match chunk {
            Some(bytes) => {
                if to.write_all(&bytes).is_err() {
                    let _ = to.shutdown(Shutdown::Both);
                    return;
                }
            }
            None => {
                let _ = to.shutdown(Shutdown::Write);
                return;
            }
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

/// A reply line, with the port of a 227 or 229 reply replaced by a new forwarding port of
/// the proxy.
fn passive_rewritten(line: Vec<u8>, rtt: Duration, counted: &Arc<AtomicUsize>) -> Vec<u8> {
    let text = String::from_utf8_lossy(&line).into_owned();
    if let Some(rest) = text.strip_prefix("229 ") {
        // 229 Entering Extended Passive Mode (|||PORT|)
        let (Some(open), Some(close)) = (rest.find("(|||"), rest.find("|)")) else {
            return line;
        };
        let Ok(port) = rest[open + 4..close].parse::<u16>() else {
            return line;
        };
        let ours = forward_once(port, rtt, counted);
        return format!("229 {}(|||{ours}|){}", &rest[..open], &rest[close + 2..]).into_bytes();
    }
    if let Some(rest) = text.strip_prefix("227 ") {
        // 227 Entering Passive Mode (h1,h2,h3,h4,p1,p2)
        let (Some(open), Some(close)) = (rest.find('('), rest.find(')')) else {
            return line;
        };
        let fields: Vec<u16> = rest[open + 1..close]
            .split(',')
            .filter_map(|f| f.trim().parse().ok())
            .collect();
        if fields.len() != 6 {
            return line;
        }
        let ours = forward_once(fields[4] * 256 + fields[5], rtt, counted);
        return format!(
            "227 {}(127,0,0,1,{},{}){}",
            &rest[..open],
            ours / 256,
            ours % 256,
            &rest[close + 1..]
        )
        .into_bytes();
    }
    line
}

/// A new port of the proxy that forwards one connection to the server's passive `port`.
fn forward_once(port: u16, rtt: Duration, counted: &Arc<AtomicUsize>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a data port");
    let ours = listener.local_addr().unwrap().port();
    let counted = Arc::clone(counted);
    thread::spawn(move || {
        let _ = listener.set_nonblocking(true);
        let deadline = Instant::now() + DATA_ACCEPT_TIMEOUT;
        while Instant::now() < deadline {
            match listener.accept() {
                Ok((client, _)) => {
                    let _ = client.set_nonblocking(false);
                    counted.fetch_add(1, Ordering::SeqCst);
                    relay(client, port, rtt, None);
                    return;
                }
                Err(_) => thread::sleep(Duration::from_millis(1)),
            }
        }
    });
    ours
}
