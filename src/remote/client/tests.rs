//! Unit tests of `client`: the retry policy of idempotent operations, on a simulated clock
//! (no pool, no server, no sleeping).

use std::cell::{Cell, RefCell};

use super::*;

/// A clock that only moves when told to: by a pause of the retry loop (recorded), or by an
/// attempt that "takes" some time.
struct FakeClock {
    now: Cell<Duration>,
    pauses: RefCell<Vec<Duration>>,
}

impl FakeClock {
    fn new() -> FakeClock {
        FakeClock {
            now: Cell::new(Duration::ZERO),
            pauses: RefCell::new(Vec::new()),
        }
    }

    fn advance(&self, by: Duration) {
        self.now.set(self.now.get() + by);
    }

    fn pauses(&self) -> Vec<Duration> {
        self.pauses.borrow().clone()
    }
}

impl Clock for FakeClock {
    fn elapsed(&self) -> Duration {
        self.now.get()
    }

    fn sleep(&self, pause: Duration) {
        self.pauses.borrow_mut().push(pause);
        self.advance(pause);
    }
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A failure that breaks the session (retryable), numbered so the test can tell which
/// attempt's error came back.
fn dropped(n: u32) -> RemoteError {
    RemoteError::new(
        RemoteErrorKind::Connection,
        format!("connection reset #{n}"),
    )
}

/// Runs `retry` with a `budget`, each attempt taking `takes` of simulated time and returning
/// what `outcome` says for its number (1, 2, ...). Returns the result, the number of
/// attempts and the pauses between them.
fn run(
    budget: Duration,
    takes: Duration,
    outcome: impl Fn(u32) -> Result<&'static str, RemoteError>,
) -> (Result<&'static str, RemoteError>, u32, Vec<Duration>) {
    let clock = FakeClock::new();
    let mut attempts = 0;
    let result = retry(budget, &"test", &clock, || {
        attempts += 1;
        // A loop that ignores the window would retry forever: fail instead of hanging.
        assert!(attempts <= 100, "still retrying after 100 attempts");
        clock.advance(takes);
        outcome(attempts)
    });
    (result, attempts, clock.pauses())
}

#[test]
fn success_at_once_is_not_retried() {
    let (result, attempts, pauses) = run(Duration::from_secs(60), ms(5), |_| Ok("listing"));
    assert_eq!(result.unwrap(), "listing");
    assert_eq!((attempts, pauses), (1, vec![]));
}

#[test]
fn transient_failures_are_retried_with_doubling_backoff_until_success() {
    let (result, attempts, pauses) = run(Duration::from_secs(60), ms(5), |n| {
        if n < 4 {
            Err(dropped(n))
        } else {
            Ok("listing")
        }
    });
    assert_eq!(result.unwrap(), "listing");
    assert_eq!(attempts, 4);
    assert_eq!(pauses, vec![BACKOFF, BACKOFF * 2, BACKOFF * 4]);
}

#[test]
fn every_retryable_kind_is_retried() {
    let retryable = [
        RemoteError::from_reply(421, "Timeout.".into()),
        RemoteError::from_reply(425, "Can't open data connection.".into()),
        RemoteError::from_reply(426, "Failure writing network stream.".into()),
        RemoteError::from_reply(450, "Temporarily busy".into()),
        RemoteError::from_reply(451, "Local error in processing".into()),
        RemoteError::new(RemoteErrorKind::Timeout, "timed out waiting for the server"),
        RemoteError::new(RemoteErrorKind::Connection, "connection reset"),
        RemoteError::new(RemoteErrorKind::Protocol, "malformed reply from server"),
    ];
    for err in retryable {
        let (result, attempts, _) = run(Duration::from_secs(60), ms(5), |n| {
            if n == 1 {
                Err(err.clone())
            } else {
                Ok("ok")
            }
        });
        assert!(result.is_ok(), "{err:?} was not retried");
        assert_eq!(attempts, 2, "{err:?}");
    }
}

#[test]
fn failures_that_are_not_retryable_are_returned_at_once() {
    let final_errors = [
        RemoteError::from_reply(550, "/f: No such file or directory".into()),
        RemoteError::from_reply(550, "/f: Permission denied".into()),
        RemoteError::from_reply(530, "Login incorrect.".into()),
        RemoteError::from_reply(552, "Quota exceeded".into()),
        RemoteError::from_reply(502, "Command not implemented".into()),
    ];
    for err in final_errors {
        let (result, attempts, pauses) = run(Duration::from_secs(60), ms(5), |_| {
            Err::<&str, _>(err.clone())
        });
        let got = result.expect_err("failed");
        assert_eq!((got.kind, got.code), (err.kind, err.code));
        assert_eq!((attempts, pauses), (1, vec![]), "{err:?} was retried");
    }
}

/// Budget 10 s: retries may start only while the pause ends within the first 5 s. Pauses
/// 0.1 + 0.2 + 0.4 + 0.8 + 1.6 s end at 3.1 s; the next (2 s, the cap) would end at 5.1 s.
#[test]
fn retries_stop_at_half_the_budget_and_return_the_last_error() {
    let (result, attempts, pauses) = run(Duration::from_secs(10), Duration::ZERO, |n| {
        Err::<&str, _>(dropped(n))
    });
    assert_eq!(pauses, vec![ms(100), ms(200), ms(400), ms(800), ms(1600)]);
    assert_eq!(attempts, 6);
    assert_eq!(result.unwrap_err().message, "connection reset #6");
}

#[test]
fn backoff_is_capped() {
    let (_, attempts, pauses) = run(Duration::from_secs(60), Duration::ZERO, |n| {
        Err::<&str, _>(dropped(n))
    });
    assert_eq!(
        &pauses[..6],
        [ms(100), ms(200), ms(400), ms(800), ms(1600), MAX_BACKOFF]
    );
    assert!(pauses[5..].iter().all(|&p| p == MAX_BACKOFF), "{pauses:?}");
    // The window is the first 30 s; every pause ends inside it.
    let total: Duration = pauses.iter().sum();
    assert!(total < Duration::from_secs(30) && total + MAX_BACKOFF >= Duration::from_secs(30));
    assert_eq!(attempts as usize, pauses.len() + 1);
}

/// Time spent in the attempts themselves counts against the window too: with attempts of
/// 2 s and a 10 s budget, the third attempt ends at 6.3 s, past the window.
#[test]
fn slow_attempts_use_up_the_retry_window() {
    let (result, attempts, pauses) = run(Duration::from_secs(10), Duration::from_secs(2), |n| {
        Err::<&str, _>(dropped(n))
    });
    assert_eq!(pauses, vec![ms(100), ms(200)]);
    assert_eq!(attempts, 3);
    assert_eq!(result.unwrap_err().message, "connection reset #3");
}

/// An attempt that already used more than half the budget is not retried at all.
#[test]
fn no_retry_when_the_first_attempt_used_half_the_budget() {
    let (result, attempts, pauses) = run(Duration::from_secs(6), Duration::from_secs(3), |n| {
        Err::<&str, _>(dropped(n))
    });
    assert_eq!((attempts, pauses), (1, vec![]));
    assert!(result.is_err());
}
