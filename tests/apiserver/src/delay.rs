//! Precise waits for the simulated round trip ([`crate::ServerOptions::rtt`]).
//!
//! tokio's timer rounds every deadline up to its next millisecond tick, so a 2 ms sleep takes
//! 2–3 ms: too coarse for a round trip of a few milliseconds. Here one thread keeps the
//! deadlines in order, sleeps to the earliest with the operating system's timer (tens of
//! microseconds late) and wakes the task waiting for it.

use std::collections::BTreeMap;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

/// A deadline and the task to wake at it.
type Waiter = (Instant, oneshot::Sender<()>);

/// The delay thread; it ends when this is dropped.
pub(crate) struct DelayLine {
    tx: mpsc::Sender<Waiter>,
}

impl DelayLine {
    /// Starts the thread.
    pub(crate) fn start() -> std::io::Result<DelayLine> {
        let (tx, rx) = mpsc::channel::<Waiter>();
        std::thread::Builder::new()
            .name("test-apiserver-rtt".into())
            .spawn(move || run(&rx))?;
        Ok(DelayLine { tx })
    }

    /// Completes `d` from now.
    pub(crate) async fn wait(&self, d: Duration) {
        let (tx, rx) = oneshot::channel();
        if self.tx.send((Instant::now() + d, tx)).is_err() {
            // The thread is gone: the coarser timer still waits at least `d`.
            tokio::time::sleep(d).await;
            return;
        }
        let _ = rx.await;
    }
}

/// Wakes each waiter at its deadline until every sender is gone; then wakes the rest at once.
fn run(rx: &mpsc::Receiver<Waiter>) {
    let mut pending: BTreeMap<(Instant, u64), oneshot::Sender<()>> = BTreeMap::new();
    let mut seq = 0u64;
    loop {
        let received = match pending.first_key_value() {
            Some(((deadline, _), _)) => {
                rx.recv_timeout(deadline.saturating_duration_since(Instant::now()))
            }
            None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        match received {
            Ok((deadline, waker)) => {
                seq += 1;
                pending.insert((deadline, seq), waker);
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        let now = Instant::now();
        while let Some(entry) = pending.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let _ = entry.remove().send(());
        }
    }
    for (_, waker) in pending {
        let _ = waker.send(());
    }
}
