//! The connections of `serve`, plain or TLS alike: the accept loop, each connection served
//! by hyper with a deadline on its request headers, and the graceful stop — accept nothing
//! new, let the requests in flight finish within a grace period, then ask them to stop and
//! give them a last, bounded while to answer.

use std::future::Future;
use std::time::Duration;

use axum::Router;
use axum::serve::Listener;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;

/// How long the requests in flight have to answer once asked to stop (an interrupted
/// deploy finishes the API-server requests it has in flight, then answers).
pub const FINISH: Duration = Duration::from_secs(10);

/// The work running outside any connection (a deploy goes on when its client hangs up):
/// counted, so that a stop waits for it as for the connections. Clones share the count.
#[derive(Debug, Clone)]
pub struct Tasks(tokio::sync::watch::Sender<usize>);

impl Default for Tasks {
    fn default() -> Self {
        Tasks(tokio::sync::watch::Sender::new(0))
    }
}

impl Tasks {
    /// Counts one task until the returned guard is dropped.
    pub fn start(&self) -> Running {
        self.0.send_modify(|n| *n += 1);
        Running(self.0.clone())
    }

    /// Resolves once no task runs.
    pub async fn idle(&self) {
        let mut count = self.0.subscribe();
        // The sender lives in `self`: the channel cannot close while this waits.
        let _ = count.wait_for(|n| *n == 0).await;
    }
}

/// One running task of [`Tasks`]; dropping it ends the task's count.
#[derive(Debug)]
pub struct Running(tokio::sync::watch::Sender<usize>);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n = n.saturating_sub(1));
    }
}

/// How the server stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// Every request in flight finished within the grace period.
    Finished,
    /// The grace period passed; the requests still in flight were asked to stop and answered.
    Interrupted,
    /// Some requests or tasks had not ended [`FINISH`] after being asked to stop: they are
    /// abandoned.
    Abandoned,
}

/// How long a client has to send its request headers; and, once `stop` completes, how long
/// the requests in flight may run before `interrupt` is called.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The request headers' deadline (`--read-timeout`); an idle keep-alive connection is
    /// closed after it too.
    pub header_timeout: Duration,
    /// `--shutdown-grace`.
    pub grace: Duration,
}

/// Serves `router` on every connection of `listener` until `stop` completes; then accepts
/// nothing more (the listener is closed), lets the requests in flight and `tasks` finish
/// within `limits.grace`, calls `interrupt` and waits up to [`FINISH`] for the rest.
pub async fn serve<L>(
    mut listener: L,
    router: Router,
    limits: Limits,
    tasks: &Tasks,
    stop: impl Future<Output = ()>,
    interrupt: impl FnOnce(),
) -> Stopped
where
    L: Listener,
{
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    tokio::pin!(stop);
    loop {
        tokio::select! {
            (io, _peer) = listener.accept() => {
                let service = TowerToHyperService::new(router.clone());
                let connection = http.serve_connection(TokioIo::new(io), service);
                let watched = graceful.watch(connection);
                // A connection error (a client gone, headers too late) ends that connection only.
                tokio::spawn(async move {
                    let _ = watched.await;
                });
            }
            () = &mut stop => break,
        }
    }
    drop(listener);
    // Idle keep-alive connections close now; the others after their response.
    let drained = async {
        graceful.shutdown().await;
        tasks.idle().await;
    };
    tokio::pin!(drained);
    if tokio::time::timeout(limits.grace, &mut drained)
        .await
        .is_ok()
    {
        return Stopped::Finished;
    }
    interrupt();
    match tokio::time::timeout(FINISH, drained).await {
        Ok(()) => Stopped::Interrupted,
        Err(_) => Stopped::Abandoned,
    }
}
