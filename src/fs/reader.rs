//! The read stream of one open file: a single RETR kept running while reads are sequential.
//!
//! The kernel reads a file in chunks of up to 128 KiB, and with `FUSE_ASYNC_READ` (which
//! fuser always enables) its readahead may deliver them slightly out of order. A
//! [`ReadStream`] therefore keeps a bounded window of the bytes it most recently received:
//! a read that falls inside the window, or a little ahead of the stream's position, is served
//! by continuing the same transfer. Anything else (a far seek forward or any seek backwards
//! past the window) ends the transfer and starts a new one with `REST offset`.
//!
//! Memory per open file is bounded by [`WINDOW`] plus a few chunks: a file is never buffered
//! whole. Offsets are `u64` throughout, so files over 4 GiB work. The window is a queue of
//! buffers of up to [`CHUNK`] bytes that the socket is read into directly. A buffer starts
//! where a kernel read starts (the read that asked for its bytes, or the gap before a read
//! that came ahead of the stream), so a read (at most 1 MiB) lies within one buffer and is
//! answered from it: a byte is not copied at all in user space. Only a read that straddles
//! two buffers (one that was split differently when it was first asked) is copied.
//!
//! A transfer that breaks in the middle is restarted once at the first byte not yet
//! received, so the caller still gets exact bytes.

use std::borrow::Cow;
use std::collections::VecDeque;

use crate::remote::client::ReadTransfer;
use crate::remote::RemoteError;

/// Bytes kept behind the stream position for out-of-order reads. Must exceed
/// `SKIP_AHEAD` plus the largest kernel read (1 MiB with the mount's 1 MiB read-ahead), so
/// that a request that skipped ahead still finds its own start in the window.
pub const WINDOW: usize = 6 * 1024 * 1024;

/// A read this far ahead of the stream position is served by reading (and keeping) the gap
/// rather than restarting the transfer: a new data connection costs a round trip or two,
/// which on most links is worth more than a few MiB of transfer, and the kernel's read-ahead
/// (1 MiB) can deliver requests that far out of order.
pub const SKIP_AHEAD: u64 = 4 * 1024 * 1024;

/// Size of one buffer of the window, and the most one read from the data socket asks for:
/// the largest read the kernel sends (256 pages), so that a read fits in the buffer that
/// starts where it does.
const CHUNK: usize = 1024 * 1024;

/// Most buffers a window holds: with small kernel reads, buffers are only partly filled,
/// and this bounds their memory as [`WINDOW`] bounds the data.
const MAX_CHUNKS: usize = WINDOW / CHUNK;

/// Buffers a [`Window`] keeps for reuse after dropping them.
const SPARE: usize = 1;

/// How often a broken transfer is resumed within one read call.
const RESUMES: u32 = 1;

/// A download in progress, as the stream needs it. Implemented by the real
/// [`ReadTransfer`]; unit tests use an in-memory one.
pub trait Download {
    /// Next bytes of the file; `Ok(0)` at its end.
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, RemoteError>;
    /// Completes the transfer after its last byte.
    fn finish(self) -> Result<(), RemoteError>;
}

impl Download for ReadTransfer {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, RemoteError> {
        ReadTransfer::read(self, buf)
    }
    fn finish(self) -> Result<(), RemoteError> {
        ReadTransfer::finish(self)
    }
}

/// Opens a transfer of the file starting at the given offset.
pub type Opener<'a, D> = dyn Fn(u64) -> Result<D, RemoteError> + 'a;

pub struct ReadStream<D: Download = ReadTransfer> {
    /// `None` once the transfer reached the end of the file (or broke).
    transfer: Option<D>,
    /// Offset of the next byte the transfer will deliver.
    pos: u64,
    /// The bytes `[pos - window.len(), pos)`.
    window: Window,
    /// Transfers started so far (the first one included), for tests and stats.
    pub restarts: u64,
}

/// The bytes a stream received last, in order, in buffers of [`CHUNK`] bytes each filled
/// from its start, up to `CHUNK` or until a new buffer was begun at a kernel read's start.
/// Buffers dropped from the front are kept for reuse (they are zeroed only once, when
/// allocated).
#[derive(Default)]
struct Window {
    /// Each buffer with the bytes filled in it.
    chunks: VecDeque<(Box<[u8]>, usize)>,
    /// Bytes in all buffers.
    total: usize,
    spare: Vec<Box<[u8]>>,
}

impl Window {
    fn len(&self) -> usize {
        self.total
    }

    /// Empties the window.
    fn clear(&mut self) {
        let all = self.chunks.len();
        self.recycle(all);
    }

    /// Removes the first `count` buffers, keeping up to [`SPARE`] for reuse.
    fn recycle(&mut self, count: usize) {
        for (buf, filled) in self.chunks.drain(..count) {
            self.total -= filled;
            if self.spare.len() < SPARE {
                self.spare.push(buf);
            }
        }
    }

    /// Appends up to `max` (at least 1) bytes that `read` puts into the buffer it is given,
    /// in a new buffer when `begin` (a kernel read starts here) and the last one is not
    /// empty; returns what `read` returned.
    fn fill<E>(
        &mut self,
        max: usize,
        begin: bool,
        read: impl FnOnce(&mut [u8]) -> Result<usize, E>,
    ) -> Result<usize, E> {
        let full = self
            .chunks
            .back()
            .is_none_or(|&(_, filled)| filled == CHUNK || (begin && filled > 0));
        if full {
            let buf = self
                .spare
                .pop()
                .unwrap_or_else(|| vec![0; CHUNK].into_boxed_slice());
            self.chunks.push_back((buf, 0));
        }
        let (buf, filled) = self.chunks.back_mut().expect("pushed above");
        let room = (CHUNK - *filled).min(max.max(1));
        let n = read(&mut buf[*filled..*filled + room])?;
        let n = n.min(room);
        *filled += n;
        self.total += n;
        Ok(n)
    }

    /// Drops whole buffers from the front, at most `n` bytes of the window, never the last;
    /// and, while more than [`MAX_CHUNKS`] are held, buffers within the first `keep_before`
    /// bytes.
    fn drop_front(&mut self, n: usize, keep_before: usize) {
        let (mut dropped, mut count) = (0, 0);
        let held = self.chunks.len();
        for (i, &(_, filled)) in self.chunks.iter().enumerate() {
            let upto = dropped + filled;
            let excess = upto <= n;
            let too_many = held - i > MAX_CHUNKS && upto <= keep_before;
            if i + 1 == held || !(excess || too_many) {
                break;
            }
            dropped += filled;
            count += 1;
        }
        self.recycle(count);
    }

    /// The window's bytes `[start, stop)`: borrowed when they lie in one buffer (a kernel
    /// read does, in the buffer begun at its start), else copied.
    fn bytes(&self, start: usize, stop: usize) -> Cow<'_, [u8]> {
        let stop = stop.max(start);
        if start == stop {
            return Cow::Borrowed(&[]);
        }
        let mut base = 0;
        let mut out: Option<Vec<u8>> = None;
        for (buf, filled) in &self.chunks {
            let (lo, hi) = (
                start.clamp(base, base + filled),
                stop.clamp(base, base + filled),
            );
            if lo < hi {
                let part = &buf[lo - base..hi - base];
                if out.is_none() && lo == start && hi == stop {
                    return Cow::Borrowed(part);
                }
                out.get_or_insert_with(|| Vec::with_capacity(stop - start))
                    .extend_from_slice(part);
            }
            base += filled;
            if base >= stop {
                break;
            }
        }
        Cow::Owned(out.unwrap_or_default())
    }
}

impl<D: Download> ReadStream<D> {
    pub fn new() -> ReadStream<D> {
        ReadStream {
            transfer: None,
            pos: 0,
            window: Window::default(),
            restarts: 0,
        }
    }

    fn window_start(&self) -> u64 {
        self.pos - self.window.len() as u64
    }

    /// Whether a read at `offset` can be served without a new transfer.
    fn reachable(&self, offset: u64) -> bool {
        offset >= self.window_start()
            && (offset < self.pos || (self.transfer.is_some() && offset <= self.pos + SKIP_AHEAD))
    }

    /// Whether a transfer (and so a session) is held.
    pub fn has_transfer(&self) -> bool {
        self.transfer.is_some()
    }

    /// Reads up to `size` bytes at `offset` of a file of `file_size` bytes: borrowed from the
    /// window where they lie in one of its buffers.
    pub fn read(
        &mut self,
        open: &Opener<'_, D>,
        offset: u64,
        size: usize,
        file_size: u64,
    ) -> Result<Cow<'_, [u8]>, RemoteError> {
        let end = offset.saturating_add(size as u64).min(file_size);
        if offset >= end {
            return Ok(Cow::Borrowed(&[]));
        }
        if !(self.reachable(offset) && (end <= self.pos || self.transfer.is_some())) {
            self.restart(open, offset)?;
        }
        let mut resumes = 0;
        while self.pos < end {
            let Some(transfer) = self.transfer.as_mut() else {
                // Broken or ended early: resume at the first byte we lack.
                if resumes >= RESUMES {
                    break;
                }
                resumes += 1;
                self.resume(open)?;
                continue;
            };
            // Up to the read's start first (a gap the kernel asked ahead of), then from it to
            // its end, in a buffer begun there: the next read begins the next buffer.
            let until = if self.pos < offset { offset } else { end };
            let want = (until - self.pos).min(CHUNK as u64) as usize;
            let begin = self.pos == offset;
            match self.window.fill(want, begin, |buf| transfer.read(buf)) {
                Ok(0) => {
                    // The data connection ended before the size we knew. Only the server's
                    // completion reply tells a file that shrank from a dropped connection.
                    let Some(t) = self.transfer.take() else { break };
                    match t.finish() {
                        Ok(()) => break,
                        Err(e) => {
                            if resumes >= RESUMES {
                                return Err(e);
                            }
                            log::info!("read stream cut at offset {} ({e}); resuming", self.pos);
                            resumes += 1;
                            self.resume(open)?;
                        }
                    }
                }
                Ok(n) => {
                    self.pos += n as u64;
                    self.trim(offset);
                }
                Err(e) => {
                    self.transfer = None;
                    if resumes >= RESUMES {
                        return Err(e);
                    }
                    log::info!("read stream broke at offset {} ({e}); resuming", self.pos);
                    resumes += 1;
                    self.resume(open)?;
                }
            }
        }
        if self.pos >= file_size {
            self.finish();
        }
        let start = (offset - self.window_start()) as usize;
        let stop = (end.min(self.pos) - self.window_start()) as usize;
        Ok(self.window.bytes(start, stop))
    }

    /// Drops bytes from the front of the window beyond its bound, keeping `[keep_from, pos)`.
    fn trim(&mut self, keep_from: u64) {
        let excess = self.window.len().saturating_sub(WINDOW);
        let removable = keep_from.saturating_sub(self.window_start()) as usize;
        self.window.drop_front(excess.min(removable), removable);
    }

    /// Ends the current transfer and starts a new one at `offset`, emptying the window.
    fn restart(&mut self, open: &Opener<'_, D>, offset: u64) -> Result<(), RemoteError> {
        // Drop the old transfer first: it gives its session back to the pool.
        self.transfer = None;
        self.window.clear();
        self.pos = offset;
        self.transfer = Some(open(offset)?);
        self.restarts += 1;
        Ok(())
    }

    /// Starts a new transfer at the current position, keeping the window.
    fn resume(&mut self, open: &Opener<'_, D>) -> Result<(), RemoteError> {
        self.transfer = None;
        self.transfer = Some(open(self.pos)?);
        self.restarts += 1;
        Ok(())
    }

    /// Completes the transfer after its last byte, returning the session to the pool.
    fn finish(&mut self) {
        if let Some(t) = self.transfer.take() {
            if let Err(e) = t.finish() {
                log::debug!("completing a download: {e}");
            }
        }
    }

    /// Gives up the transfer (and its session) but keeps the window.
    pub fn release_transfer(&mut self) {
        self.transfer = None;
    }
}

impl<D: Download> Default for ReadStream<D> {
    fn default() -> Self {
        ReadStream::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remote::RemoteErrorKind;
    use std::cell::{Cell, RefCell};

    /// An in-memory download of `data` from `pos`, which breaks after `fail_after` bytes.
    struct Fake {
        data: std::rc::Rc<Vec<u8>>,
        pos: usize,
        fail_after: Option<usize>,
        /// Ends the stream cleanly (EOF) at this offset, then fails finish(): a server
        /// killed mid-transfer closes the data socket without an error.
        cut_at: Option<usize>,
    }

    impl Download for Fake {
        fn read(&mut self, buf: &mut [u8]) -> Result<usize, RemoteError> {
            if let Some(cut) = self.cut_at {
                let n = buf.len().min(cut.saturating_sub(self.pos));
                return self.copy(&mut buf[..n]);
            }
            if let Some(left) = self.fail_after.as_mut() {
                if *left == 0 {
                    return Err(RemoteError::new(RemoteErrorKind::Connection, "cut"));
                }
                let n = buf.len().min(*left);
                *left -= n.min(*left);
                return self.copy(&mut buf[..n]);
            }
            self.copy(buf)
        }
        fn finish(self) -> Result<(), RemoteError> {
            match self.cut_at {
                Some(cut) if self.pos < self.data.len() && self.pos >= cut => Err(
                    RemoteError::new(RemoteErrorKind::Connection, "connection closed"),
                ),
                _ => Ok(()),
            }
        }
    }

    impl Fake {
        fn copy(&mut self, buf: &mut [u8]) -> Result<usize, RemoteError> {
            let n = buf.len().min(self.data.len() - self.pos);
            buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
            self.pos += n;
            Ok(n)
        }
    }

    /// Opens an in-memory download of `d` that never breaks.
    fn whole(d: &std::rc::Rc<Vec<u8>>) -> impl Fn(u64) -> Result<Fake, RemoteError> + '_ {
        move |off| {
            Ok(Fake {
                data: d.clone(),
                pos: off as usize,
                fail_after: None,
                cut_at: None,
            })
        }
    }

    fn data(len: usize) -> std::rc::Rc<Vec<u8>> {
        std::rc::Rc::new((0..len).map(|i| (i * 7 % 251) as u8).collect())
    }

    #[test]
    fn sequential_and_out_of_order_reads_share_one_transfer() {
        let d = data(16 * 1024 * 1024);
        let opens = RefCell::new(Vec::new());
        let open = |off: u64| {
            opens.borrow_mut().push(off);
            Ok(Fake {
                data: d.clone(),
                pos: off as usize,
                fail_after: None,
                cut_at: None,
            })
        };
        let mut s = ReadStream::new();
        let size = d.len() as u64;
        let k = 128 * 1024;
        // Readahead delivers chunk 2 before chunk 1, then 4 before 3.
        for idx in [0u64, 2, 1, 4, 3, 5] {
            let got = s.read(&open, idx * k, k as usize, size).unwrap();
            assert_eq!(*got, d[(idx * k) as usize..((idx + 1) * k) as usize]);
        }
        assert_eq!(
            *opens.borrow(),
            vec![0],
            "one transfer for reordered sequential reads"
        );
        // A far seek forward and a seek back past the window restart the transfer.
        let far = 10 * 1024 * 1024 + 4096;
        assert_eq!(
            *s.read(&open, far, 100, size).unwrap(),
            d[far as usize..far as usize + 100]
        );
        assert_eq!(*s.read(&open, 0, 10, size).unwrap(), d[..10]);
        assert_eq!(*opens.borrow(), vec![0, far, 0]);
        // Reads past the end are short, then empty.
        assert_eq!(
            *s.read(&open, size - 5, 100, size).unwrap(),
            d[d.len() - 5..]
        );
        assert!(s.read(&open, size, 100, size).unwrap().is_empty());
    }

    #[test]
    fn a_broken_transfer_resumes_at_the_first_missing_byte() {
        let d = data(1024 * 1024);
        let opens = RefCell::new(Vec::new());
        let first = Cell::new(true);
        let open = |off: u64| {
            opens.borrow_mut().push(off);
            let fail_after = first.replace(false).then_some(300_000);
            Ok(Fake {
                data: d.clone(),
                pos: off as usize,
                fail_after,
                cut_at: None,
            })
        };
        let mut s = ReadStream::new();
        let got = s.read(&open, 0, d.len(), d.len() as u64).unwrap();
        assert_eq!(got, *d);
        assert_eq!(*opens.borrow(), vec![0, 300_000]);
        assert!(
            !s.has_transfer(),
            "the transfer is completed at end of file"
        );
    }

    #[test]
    fn a_stream_cut_without_an_error_is_resumed_not_taken_for_eof() {
        let d = data(1024 * 1024);
        let opens = RefCell::new(Vec::new());
        let first = Cell::new(true);
        let open = |off: u64| {
            opens.borrow_mut().push(off);
            let cut_at = first.replace(false).then_some(400_000);
            Ok(Fake {
                data: d.clone(),
                pos: off as usize,
                fail_after: None,
                cut_at,
            })
        };
        let mut s = ReadStream::new();
        let got = s.read(&open, 0, d.len(), d.len() as u64).unwrap();
        assert_eq!(
            got.len(),
            d.len(),
            "a cut stream must not look like a short file"
        );
        assert_eq!(got, *d);
        assert_eq!(*opens.borrow(), vec![0, 400_000]);
    }

    /// Short socket reads of odd sizes fill the chunks in order; any range copies out exactly,
    /// also after whole chunks were dropped from the front.
    #[test]
    fn window_chunks_hold_the_bytes_in_order() {
        let d = data(3 * CHUNK + 12_345);
        let mut w = Window::default();
        let mut at = 0;
        while at < d.len() {
            let n = w
                .fill(7_001, false, |buf| {
                    let n = buf.len().min(d.len() - at).min(5_003);
                    buf[..n].copy_from_slice(&d[at..at + n]);
                    Ok::<usize, ()>(n)
                })
                .unwrap();
            at += n;
        }
        assert_eq!(w.len(), d.len());
        for (start, stop) in [
            (0, 1),
            (0, d.len()),
            (CHUNK - 3, CHUNK + 3),
            (2 * CHUNK, d.len()),
        ] {
            assert_eq!(*w.bytes(start, stop), d[start..stop], "{start}..{stop}");
        }
        w.drop_front(CHUNK + 10, 0);
        assert_eq!(w.len(), d.len() - CHUNK, "only whole chunks are dropped");
        assert_eq!(*w.bytes(5, 2 * CHUNK), d[CHUNK + 5..3 * CHUNK]);
        w.clear();
        assert_eq!(w.len(), 0);
        assert!(w.spare.len() <= SPARE);
    }

    /// Kernel reads as `cat` makes them (256 KiB, 512 KiB, then 1 MiB reads that start
    /// 768 KiB into the file), some out of order and some far into a file, each lie in the
    /// buffer begun at their start and are borrowed, not copied; a later read that the
    /// first ones split differently is copied, exactly.
    #[test]
    fn reads_are_borrowed_from_the_buffer_begun_at_their_start() {
        let d = data(40 * CHUNK);
        let open = whole(&d);
        let mut s = ReadStream::new();
        let size = d.len() as u64;
        let (k, m) = (1024u64, 1024 * 1024u64);
        let far = 30 * m + 4096;
        let borrowed = [
            (0, 256 * k),
            (256 * k, 512 * k),
            (768 * k, m),
            // Two reads the kernel's read-ahead sent out of order.
            (768 * k + 2 * m, m),
            (768 * k + m, m),
            (768 * k + 3 * m, m),
            // Far ahead: a new transfer, which starts mid-buffer of the old alignment.
            (far, 128 * k),
            (far + 128 * k, m),
        ];
        for (at, len) in borrowed {
            let (lo, hi) = (at as usize, (at + len) as usize);
            let got = s.read(&open, at, len as usize, size).unwrap();
            assert_eq!(*got, d[lo..hi], "read of {len} at {at}");
            assert!(
                matches!(got, Cow::Borrowed(_)),
                "read of {len} at {at} was copied"
            );
        }
        assert_eq!(s.restarts, 2);
        // Across the boundary of the two buffers begun at `far` and `far + 128 KiB`.
        let at = far + 64 * k;
        let got = s.read(&open, at, 128 * k as usize, size).unwrap();
        assert_eq!(*got, d[at as usize..(at + 128 * k) as usize]);
        assert!(matches!(got, Cow::Owned(_)));
    }

    /// Many small reads in order (as an mmap of a file faults it in) hold at most
    /// [`MAX_CHUNKS`] buffers, however little each holds.
    #[test]
    fn small_reads_hold_a_bounded_number_of_buffers() {
        let d = data(4 * CHUNK);
        let open = whole(&d);
        let mut s = ReadStream::new();
        let mut most = 0;
        for i in 0..(d.len() / 4096) {
            let got = s
                .read(&open, (i * 4096) as u64, 4096, d.len() as u64)
                .unwrap();
            assert_eq!(*got, d[i * 4096..(i + 1) * 4096]);
            most = most.max(s.window.chunks.len());
        }
        assert!(most <= MAX_CHUNKS + 1, "{most} buffers");
    }

    /// The bound docs/SEMANTICS.md and this module's doc give, written out rather than
    /// taken from the constants it bounds: a 6 MiB window of received data, held in buffers
    /// that together take at most 2 MiB more (the 1 MiB buffer being filled, and a spare).
    const DOCUMENTED_DATA: usize = 6 * 1024 * 1024;
    const DOCUMENTED_MEMORY: usize = DOCUMENTED_DATA + 2 * 1024 * 1024;

    /// Memory held by a window: every buffer it owns, spares included.
    fn held(w: &Window) -> usize {
        (w.chunks.len() + w.spare.len()) * CHUNK
    }

    /// Sequential reads of every size the kernel sends, and forward skips up to
    /// `SKIP_AHEAD` (served by reading on, so the window fills with the gap), never hold more
    /// than the documented bound, and return exact bytes from one transfer.
    #[test]
    fn window_memory_is_bounded() {
        let d = data(40 * 1024 * 1024);
        let opens = Cell::new(0);
        let open = |off: u64| {
            opens.set(opens.get() + 1);
            Ok(Fake {
                data: d.clone(),
                pos: off as usize,
                fail_after: None,
                cut_at: None,
            })
        };
        let mut s = ReadStream::new();
        let size = d.len() as u64;
        let (mut most_data, mut most_memory) = (0, 0);
        let mut offset = 0u64;
        // (skip before the read, read size): 4 KiB to 1 MiB reads, skips up to SKIP_AHEAD.
        let steps = [
            (0, 128 * 1024),
            (0, 4096),
            (0, 1024 * 1024),
            (4 * 1024 * 1024, 1024 * 1024),
            (0, 128 * 1024),
            (4 * 1024 * 1024 - 1, 128 * 1024),
            (1, 4096),
            (3 * 1024 * 1024 + 12_345, 1024 * 1024),
            (0, 1024 * 1024),
            (0, 1024 * 1024),
        ];
        let mut i = 0;
        while offset < size {
            let (skip, len) = steps[i % steps.len()];
            i += 1;
            // A skip is counted from where the stream stands, as the kernel's read-ahead does.
            offset = (offset + skip).min(size);
            let got = s.read(&open, offset, len, size).unwrap();
            let end = (offset as usize + len).min(d.len());
            assert_eq!(*got, d[offset as usize..end], "read of {len} at {offset}");
            offset = end as u64;
            most_data = most_data.max(s.window.len());
            most_memory = most_memory.max(held(&s.window));
        }
        assert_eq!(
            opens.get(),
            1,
            "skips within SKIP_AHEAD restarted the transfer"
        );
        assert!(
            most_data <= DOCUMENTED_DATA,
            "the window held {most_data} bytes of data, more than {DOCUMENTED_DATA}"
        );
        assert!(
            most_memory <= DOCUMENTED_MEMORY,
            "the window held {most_memory} bytes of buffers, more than {DOCUMENTED_MEMORY}"
        );
    }
}
