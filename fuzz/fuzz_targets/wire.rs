//! Fuzzes what a server says on the wire: reply framing, the greeting, login, FEAT, PASV/EPSV
//! replies and listing data, through ftpfs's real session code (`remote::session::Session`
//! over suppaftp) against a scripted server on 127.0.0.1.
//!
//! Reply framing and the PASV/EPSV address parsers live inside suppaftp, where no target can
//! call them directly; this one reaches them the way ftpfs does, over a socket.
//!
//! Input layout: one byte of flags, then the server's script as chunks separated by NUL
//! (so a chunk cannot contain NUL; the `listing` and `reply` targets cover NUL bytes):
//!
//! - flags: bit 0 PASV instead of EPSV (`DataMode`); bit 1 list with `LIST -a` whatever FEAT
//!   says; bit 2 SIZE and MDTM of `/f`; bit 3 RETR `/f` (read to the end, then the
//!   completion reply); bit 4 that RETR starts at offset 1000 (REST); bit 5 list `/d` too.
//!   Connecting (greeting, USER/PASS, TYPE I, FEAT, OPTS UTF8) and listing `/` always run.
//! - a chunk `=TEXT`: the server writes TEXT at once, without reading a command;
//! - `DTEXT`: the server accepts the next data connection on its data listener, writes TEXT
//!   on it and closes it (skipped when no connection comes);
//! - `.`: the server hangs up the control connection (the script ends);
//! - anything else: a reply, written whole after the server has read one command line (the
//!   first chunk, the greeting, without reading).
//!
//! In any TEXT, `%P` becomes the data listener's port in decimal (EPSV: `(|||%P|)`) and `%Q`
//! becomes it as PASV's two numbers `p1,p2` (`(127,0,0,1,%Q)`). Other ports point nowhere.
//!
//! Every deadline is short (`STEP`, 10 ms), so an input costs milliseconds, or `STEP` per
//! step where client and server wait for each other. Checked: nothing panics; every call
//! returns, within `MAX_CALL`; a failure is a `RemoteError` whose errno is one that
//! docs/SEMANTICS.md lists; a listing holds only valid names; a session whose error breaks
//! it is not used again (as the pool does).
#![no_main]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::{Once, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use ftpfs::error::{FsError, SERVER_ERRNOS};
use ftpfs::remote::listing::ListingFormat;
use ftpfs::remote::session::{DataMode, Session, SessionConfig};
use ftpfs::remote::{Entry, RemoteError, RemotePath};
use libfuzzer_sys::fuzz_target;

/// Every deadline of one input: ftpfs's connect, reply and data deadlines, and the scripted
/// server's wait for a command line or a data connection. Loopback answers in microseconds,
/// so this expires where one side waits for something the other will never send, which is
/// where most of the time goes (a mutated script rarely matches the commands one for one):
/// 50 ms gave 27 inputs/s, 10 ms 90/s. A deadline that expires early on a busy machine only
/// changes which path an input takes, never what is checked.
const STEP: Duration = Duration::from_millis(10);

/// The longest any one call may take. A call reads at most a few dozen replies and listings,
/// each bounded by `STEP` per socket read; far more than that means a missing deadline.
const MAX_CALL: Duration = Duration::from_secs(5);

/// Chunks beyond this many are ignored (a script longer than any session needs).
const MAX_CHUNKS: usize = 32;

/// Most bytes read from one RETR.
const MAX_RETR: usize = 1 << 20;

const PASSIVE: u8 = 1;
const LIST_UNIX: u8 = 1 << 1;
const SIZE_MDTM: u8 = 1 << 2;
const RETR: u8 = 1 << 3;
const REST: u8 = 1 << 4;
const SUBDIR: u8 = 1 << 5;

fuzz_target!(|data: &[u8]| {
    // libFuzzer's main is not Rust's, so SIGPIPE is not ignored as in a Rust program: a write
    // to a socket the other side closed would end the fuzzer instead of failing with EPIPE.
    static IGNORE_SIGPIPE: Once = Once::new();
    // SAFETY: setting a signal's disposition to SIG_IGN, once, before any socket is used.
    IGNORE_SIGPIPE.call_once(|| unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    });

    let Some((&flags, script)) = data.split_first() else {
        return;
    };
    let chunks: Vec<Vec<u8>> = script
        .split(|&b| b == 0)
        .take(MAX_CHUNKS)
        .map(<[u8]>::to_vec)
        .collect();

    let control = TcpListener::bind("127.0.0.1:0").expect("bind control listener");
    let data_listener = TcpListener::bind("127.0.0.1:0").expect("bind data listener");
    let port = control.local_addr().unwrap().port();
    let server = thread::spawn(move || serve(&control, &data_listener, &chunks));

    let cfg = SessionConfig {
        host: "127.0.0.1".into(),
        port,
        user: "test".into(),
        password: "secret".into(),
        data_mode: if flags & PASSIVE != 0 {
            DataMode::Passive
        } else {
            DataMode::ExtendedPassive
        },
        // Always connect to the control connection's peer: a PASV reply must never send this
        // fuzzer to an address off this machine.
        use_pasv_address: false,
        connect_timeout: STEP * 2,
        reply_timeout: STEP,
        data_timeout: STEP,
        tls: None,
        codec: None,
    };
    if let Ok(mut session) = call("connect", || Session::connect(&cfg, false)) {
        drive(&mut session, flags);
    }
    // The session is gone (its socket closed), so the server's next read ends the script.
    server.join().expect("scripted server panicked");
});

/// Runs the operations `flags` selects, stopping at the first error that breaks the session
/// (the pool drops such a session).
fn drive(session: &mut Session, flags: u8) {
    let root = RemotePath::root();
    let file = RemotePath::parse(b"/f").unwrap();
    let dir = RemotePath::parse(b"/d").unwrap();
    let dirs = if flags & SUBDIR != 0 {
        vec![&root, &dir]
    } else {
        vec![&root]
    };
    for d in dirs {
        let listed = if flags & LIST_UNIX != 0 {
            call("LIST", || session.list_as(d, ListingFormat::List))
        } else {
            call("list", || session.list(d))
        };
        match listed {
            Ok(entries) => {
                if verbose() {
                    eprintln!("wire: {} entries in {d}", entries.len());
                }
                entries.iter().for_each(check_entry)
            }
            Err(broken) if broken => return,
            Err(_) => {}
        }
    }
    if flags & SIZE_MDTM != 0 {
        if let Err(true) = call("SIZE", || session.size(&file)) {
            return;
        }
        if let Err(true) = call("MDTM", || session.mdtm(&file)) {
            return;
        }
    }
    if flags & RETR != 0 {
        let offset = if flags & REST != 0 { 1000 } else { 0 };
        let _ = call("RETR", || {
            let mut transfer = session.retr(&file, offset, STEP)?;
            let mut buf = Vec::new();
            (&mut transfer)
                .take(MAX_RETR as u64)
                .read_to_end(&mut buf)
                .map_err(|e| RemoteError::from_io(&e))?;
            transfer.finish()
        });
    }
}

/// Runs one call and checks how it ends: within `MAX_CALL`, and on failure with a documented
/// errno. On failure, whether the error breaks the session.
fn call<T>(what: &str, f: impl FnOnce() -> Result<T, RemoteError>) -> Result<T, bool> {
    let started = Instant::now();
    let result = f();
    let took = started.elapsed();
    if verbose() {
        let outcome = result.as_ref().map(|_| "ok").map_err(ToString::to_string);
        eprintln!("wire: {what}: {outcome:?} in {took:?}");
    }
    assert!(took < MAX_CALL, "{what} took {took:?}");
    result.map_err(|err| {
        let _ = err.to_string();
        let broken = err.breaks_session();
        if broken {
            assert!(err.is_retryable(), "{what}: {err:?}");
        }
        let errno = FsError::from(err.clone()).errno();
        assert!(
            SERVER_ERRNOS.contains(&errno),
            "{what}: errno {errno} for {err:?}"
        );
        broken
    })
}

/// `WIRE_VERBOSE=1` prints each call's outcome (to see what a script does).
fn verbose() -> bool {
    static VERBOSE: OnceLock<bool> = OnceLock::new();
    *VERBOSE.get_or_init(|| std::env::var_os("WIRE_VERBOSE").is_some())
}

fn check_entry(entry: &Entry) {
    let name = entry.name.as_slice();
    assert!(
        !name.is_empty() && name != b"." && name != b"..",
        "{entry:?}"
    );
    assert!(!name.contains(&b'/') && !name.contains(&0), "{entry:?}");
    if let Some(target) = &entry.link_target {
        assert!(!target.is_empty() && !target.contains(&0), "{entry:?}");
    }
}

/// The scripted server: accepts one control connection and plays `chunks` on it (see the
/// module doc). Every wait is bounded by `STEP`; the script ends early when ftpfs hangs up.
fn serve(control: &TcpListener, data: &TcpListener, chunks: &[Vec<u8>]) {
    let Some(stream) = accept(control, MAX_CALL) else {
        return;
    };
    let port = data.local_addr().unwrap().port();
    // Each reply goes out at once: with Nagle's algorithm a small reply written right after
    // another would wait for ftpfs's delayed ACK (40 ms), on every transfer.
    let _ = stream.set_nodelay(true);
    let _ = stream.set_read_timeout(Some(STEP));
    let _ = stream.set_write_timeout(Some(STEP));
    let Ok(writer) = stream.try_clone() else {
        return;
    };
    let mut writer = writer;
    let mut reader = BufReader::new(stream);
    for (i, chunk) in chunks.iter().enumerate() {
        match chunk.first() {
            Some(b'=') => {
                if writer.write_all(&expand(&chunk[1..], port)).is_err() {
                    return;
                }
            }
            Some(b'D') => {
                if let Some(mut conn) = accept(data, STEP) {
                    let _ = conn.set_write_timeout(Some(STEP));
                    let _ = conn.write_all(&expand(&chunk[1..], port));
                    let _ = conn.shutdown(Shutdown::Both);
                }
            }
            Some(b'.') => return,
            _ => {
                if i > 0 {
                    let mut line = Vec::new();
                    // A timeout (the client sent nothing) still lets the reply go out.
                    if let Ok(0) = (&mut reader).take(4096).read_until(b'\n', &mut line) {
                        return; // ftpfs hung up
                    }
                }
                if writer.write_all(&expand(chunk, port)).is_err() {
                    return;
                }
            }
        }
    }
}

/// Accepts one connection, waiting at most `wait`.
fn accept(listener: &TcpListener, wait: Duration) -> Option<TcpStream> {
    let mut pfd = libc::pollfd {
        fd: listener.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd for a socket that outlives the call.
    let ready = unsafe { libc::poll(&mut pfd, 1, wait.as_millis() as libc::c_int) };
    if ready != 1 {
        return None;
    }
    listener.accept().ok().map(|(s, _)| s)
}

/// `text` with `%P` replaced by `port` and `%Q` by `port` as PASV's `p1,p2`.
fn expand(text: &[u8], port: u16) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + 8);
    let mut i = 0;
    while i < text.len() {
        match text.get(i..i + 2) {
            Some(b"%P") => out.extend_from_slice(port.to_string().as_bytes()),
            Some(b"%Q") => {
                out.extend_from_slice(format!("{},{}", port >> 8, port & 0xff).as_bytes())
            }
            _ => {
                out.push(text[i]);
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    out
}
