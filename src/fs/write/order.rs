//! [`FileCell`]: the lock around one file's [`WriteFile`], taken strictly in arrival order,
//! with room for a sequential writer to run a few chunks ahead of the network.
//!
//! A streamed write is answered before its bytes are sent (see `FtpFs::write`). With a plain
//! mutex the writer's next chunk still had to wait for that send before it could be answered,
//! so the writer, the FUSE thread that carries its chunk and the network took turns instead of
//! working at once. Here a write that continues the stream exactly where the chunks already
//! queued will leave it takes its place in the queue and is answered at once; it sends when its
//! turn comes. Order is what makes that safe: every user of the file (writes, reads, flushes,
//! truncates) queues behind the chunks that were answered before it arrived, so a flush never
//! overtakes an answered chunk, and the chunks reach the STOR in offset order.
//!
//! At most [`AHEAD`] chunks wait behind the one being sent: each holds a FUSE thread (its
//! bytes are in that thread's request buffer), and the other threads must stay free for other
//! requests. A chunk whose send fails after it was answered leaves `WriteFile::lost` set, and
//! the chunks queued behind it then fail too; the error reaches the next call that was not
//! answered early (a write, flush or fsync), as for a single early answer.
//!
//! A cell also counts the handles that share it. The count changes only while the map of
//! open files (`FtpFs::open_files`) is locked, the same lock under which a cell enters and
//! leaves that map, so a cell is in the map exactly while it has handles: see
//! [`FileCell::add_handle`].

use std::collections::HashMap;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use super::WriteFile;

/// How many answered chunks may wait behind the one being sent.
pub const AHEAD: u64 = 2;

/// The open files by inode (`FtpFs::open_files`, locked).
pub type OpenFiles = HashMap<u64, Arc<FileCell>>;

pub struct FileCell {
    order: Mutex<Order>,
    turn: Condvar,
    file: Mutex<WriteFile>,
    /// Handles sharing this state. Changed only with the map of open files locked (the
    /// `&mut OpenFiles` of [`Self::add_handle`] and [`Self::drop_handle`]); read alone it is
    /// a hint.
    handles: AtomicUsize,
}

/// The queue: tickets are handed out in arrival order and served in the same order.
struct Order {
    next: u64,
    serving: u64,
    /// Where the stream will stand once every queued user is done, if all of them are
    /// accepted stream chunks: a write at exactly this offset continues the stream.
    stream_end: Option<u64>,
}

impl FileCell {
    pub fn new(file: WriteFile) -> FileCell {
        FileCell {
            order: Mutex::new(Order {
                next: 0,
                serving: 0,
                stream_end: None,
            }),
            turn: Condvar::new(),
            file: Mutex::new(file),
            handles: AtomicUsize::new(0),
        }
    }

    /// One more handle shares this state. Called with the map of open files locked, on the
    /// cell the map holds for the inode: a last handle's release, which takes the cell out of
    /// the map under the same lock, then either came before (and the map holds a newer cell
    /// or none) or sees this handle and leaves the cell in place. Counted anywhere else (say
    /// under the file's own lock, after the map was let go), an open racing with the last
    /// release could keep a cell that the map no longer holds: its handle would then read
    /// and write a state that later opens never see.
    pub fn add_handle(&self, _locked: &mut OpenFiles) {
        self.handles.fetch_add(1, Ordering::SeqCst);
    }

    /// One handle fewer; with the last one the cell leaves the map (if the map still holds
    /// it: a failed upload's state is replaced there while its handles are open). Returns
    /// whether that was the last handle.
    pub fn drop_handle(self: &Arc<Self>, ino: u64, locked: &mut OpenFiles) -> bool {
        let last = self.handles.fetch_sub(1, Ordering::SeqCst) == 1;
        if last && locked.get(&ino).is_some_and(|f| Arc::ptr_eq(f, self)) {
            locked.remove(&ino);
        }
        last
    }

    /// How many handles share this state as of now (a hint: it may change at once).
    pub fn handles(&self) -> usize {
        self.handles.load(Ordering::SeqCst)
    }

    fn order(&self) -> MutexGuard<'_, Order> {
        self.order.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits for every user queued before this call, then locks the file.
    pub fn lock(&self) -> FileGuard<'_> {
        let ticket = {
            let mut order = self.order();
            order.stream_end = None;
            self.take_ticket(&mut order)
        };
        ticket.wait()
    }

    /// Queues a write of `len` bytes at `offset` as an accepted stream chunk, if it continues
    /// the stream where the queued chunks leave it and the queue has room. Returns its place,
    /// whose `Ticket::wait` then locks the file; `None` if the write must take the usual way.
    pub fn queue_chunk(&self, offset: u64, len: u64) -> Option<Ticket<'_>> {
        let mut order = self.order();
        if order.stream_end != Some(offset) || order.next - order.serving > AHEAD {
            return None;
        }
        order.stream_end = Some(offset + len);
        Some(self.take_ticket(&mut order))
    }

    fn take_ticket(&self, order: &mut Order) -> Ticket<'_> {
        order.next += 1;
        Ticket {
            cell: self,
            number: order.next - 1,
            used: false,
        }
    }

    fn wait_turn(&self, ticket: u64) -> FileGuard<'_> {
        let mut order = self.order();
        while order.serving != ticket {
            order = self.turn.wait(order).unwrap_or_else(|p| p.into_inner());
        }
        drop(order);
        FileGuard {
            cell: self,
            file: Some(self.file.lock().unwrap_or_else(|p| p.into_inner())),
        }
    }

    /// Called by the holder of the lock as it accepts a stream chunk ending at `end`: if
    /// nobody has queued behind it, later chunks from `end` on may queue as accepted.
    pub fn stream_continues_at(&self, end: u64) {
        let mut order = self.order();
        if order.next == order.serving + 1 {
            order.stream_end = Some(end);
        }
    }

    /// Called by the holder of the lock when the stream ends or fails: nothing more queues
    /// as accepted (chunks already queued find the failure when their turn comes).
    pub fn stream_stops(&self) {
        self.order().stream_end = None;
    }
}

/// A place in a [`FileCell`]'s queue, from [`FileCell::queue_chunk`]. Dropped unused (a
/// panic before its wait), it still takes its turn, so that the users behind it get theirs.
#[must_use]
pub struct Ticket<'a> {
    cell: &'a FileCell,
    number: u64,
    used: bool,
}

impl<'a> Ticket<'a> {
    /// Waits for this place's turn, then locks the file.
    pub fn wait(mut self) -> FileGuard<'a> {
        self.used = true;
        self.cell.wait_turn(self.number)
    }
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        if !self.used {
            drop(self.cell.wait_turn(self.number));
        }
    }
}

/// The locked file; dropping it lets the next user in.
pub struct FileGuard<'a> {
    cell: &'a FileCell,
    file: Option<MutexGuard<'a, WriteFile>>,
}

impl<'a> FileGuard<'a> {
    pub fn cell(&self) -> &'a FileCell {
        self.cell
    }
}

impl Deref for FileGuard<'_> {
    type Target = WriteFile;
    fn deref(&self) -> &WriteFile {
        self.file.as_ref().expect("held until drop")
    }
}

impl DerefMut for FileGuard<'_> {
    fn deref_mut(&mut self) -> &mut WriteFile {
        self.file.as_mut().expect("held until drop")
    }
}

impl Drop for FileGuard<'_> {
    fn drop(&mut self) {
        self.file = None;
        let mut order = self.cell.order();
        order.serving += 1;
        if order.serving == order.next {
            order.stream_end = None;
        }
        drop(order);
        self.cell.turn.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    fn cell() -> Arc<FileCell> {
        Arc::new(FileCell::new(WriteFile::new(7, 0, None)))
    }

    /// A thread that locks `cell` (waiting for its turn) and says so. Returns once the
    /// thread has taken its place in the queue (the handshake: its ticket is out), so the
    /// caller knows it waits behind every user queued before.
    fn lock_in_thread(cell: &Arc<FileCell>) -> (std::thread::JoinHandle<()>, mpsc::Receiver<()>) {
        let (tx, rx) = mpsc::channel();
        let queued = cell.order().next;
        let thread = {
            let cell = Arc::clone(cell);
            std::thread::spawn(move || {
                drop(cell.lock());
                tx.send(()).unwrap();
            })
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while cell.order().next == queued {
            assert!(Instant::now() < deadline, "the thread never queued");
            std::thread::yield_now();
        }
        (thread, rx)
    }

    /// The thread from [`lock_in_thread`] has not got the lock: its ticket is not served yet
    /// (so it cannot have it) and it has not said otherwise.
    fn still_waiting(cell: &FileCell, rx: &mpsc::Receiver<()>) {
        let order = cell.order();
        assert!(
            order.serving < order.next - 1,
            "the last ticket is being served"
        );
        drop(order);
        assert_eq!(rx.try_recv(), Err(mpsc::TryRecvError::Empty));
    }

    #[test]
    fn chunks_queue_only_where_the_stream_will_stand() {
        let cell = cell();
        // Nobody holds the lock: a write takes the usual way.
        assert!(cell.queue_chunk(0, 10).is_none());
        let holder = cell.lock();
        assert!(cell.queue_chunk(0, 10).is_none(), "no stream was accepted");
        cell.stream_continues_at(10);
        assert!(
            cell.queue_chunk(5, 10).is_none(),
            "not where the stream stands"
        );
        let first = cell.queue_chunk(10, 10).expect("continues the stream");
        let second = cell
            .queue_chunk(20, 10)
            .expect("continues the queued chunk");
        assert!(cell.queue_chunk(30, 10).is_none(), "more than AHEAD queued");
        drop(holder);
        drop(first.wait());
        // One queued chunk left, with room behind it.
        let third = cell.queue_chunk(30, 10).expect("room again");
        drop(second.wait());
        drop(third.wait());
        // The queue is empty: the next write takes the usual way again.
        assert!(cell.queue_chunk(40, 10).is_none());
    }

    #[test]
    fn any_other_user_ends_the_queueing() {
        let cell = cell();
        let holder = cell.lock();
        cell.stream_continues_at(10);
        let queued = cell.queue_chunk(10, 10).expect("queued");
        // A flush (say) arrives: nothing queues behind it as accepted.
        let (flush, rx) = lock_in_thread(&cell);
        still_waiting(&cell, &rx);
        assert!(cell.queue_chunk(20, 10).is_none(), "queued behind a flush");
        drop(holder);
        let chunk = queued.wait();
        // The flush waits for the chunk answered before it.
        still_waiting(&cell, &rx);
        drop(chunk);
        assert_eq!(rx.recv_timeout(Duration::from_secs(10)), Ok(()));
        flush.join().unwrap();
    }

    #[test]
    fn a_place_dropped_unused_still_takes_its_turn() {
        let cell = cell();
        let holder = cell.lock();
        cell.stream_continues_at(10);
        let abandoned = cell.queue_chunk(10, 10).expect("queued");
        let (later, rx) = lock_in_thread(&cell);
        drop(holder);
        drop(abandoned);
        assert_eq!(rx.recv_timeout(Duration::from_secs(10)), Ok(()));
        later.join().unwrap();
    }

    #[test]
    fn a_failed_stream_stops_the_queueing() {
        let cell = cell();
        let holder = cell.lock();
        cell.stream_continues_at(10);
        cell.stream_stops();
        assert!(cell.queue_chunk(10, 10).is_none());
        drop(holder);
    }

    #[test]
    fn users_are_served_in_arrival_order() {
        let cell = cell();
        let holder = cell.lock();
        let (tx, rx) = mpsc::channel();
        let mut threads = Vec::new();
        for n in 0..4 {
            let (cell, tx) = (Arc::clone(&cell), tx.clone());
            let (arrived, waiting) = mpsc::channel();
            threads.push(std::thread::spawn(move || {
                // Takes its place before it tells the test, so arrival order is known.
                let ticket = cell.take_ticket(&mut cell.order());
                arrived.send(()).unwrap();
                let _guard = ticket.wait();
                tx.send(n).unwrap();
            }));
            waiting.recv().unwrap();
        }
        drop(holder);
        let served: Vec<i32> = (0..4)
            .map(|_| rx.recv_timeout(Duration::from_secs(10)).unwrap())
            .collect();
        assert_eq!(served, [0, 1, 2, 3]);
        threads.into_iter().for_each(|t| t.join().unwrap());
    }
}
