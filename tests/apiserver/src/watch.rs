//! Minimal watch (`k8s.io/apiserver/pkg/endpoints/handlers/watch.go`): newline-delimited JSON
//! events over a chunked response, replay from a resourceVersion, initial ADDED events, bookmarks,
//! and `timeoutSeconds`.

use crate::http::Inner;
use crate::query::Query;
use crate::resources::ResourceDef;
use crate::selector::{FieldSelector, LabelSelector};
use crate::status::ApiError;
use bytes::Bytes;
use hyper::body::{Body, Frame};
use serde_json::{Value, json};
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::mpsc;

/// A response body fed from a channel.
pub(crate) struct ChannelBody {
    rx: mpsc::Receiver<Bytes>,
}

impl Body for ChannelBody {
    type Data = Bytes;
    type Error = Infallible;
    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.rx.poll_recv(cx).map(|o| o.map(|b| Ok(Frame::data(b))))
    }
}

fn line(kind: &str, object: &Value) -> Bytes {
    let mut s = serde_json::to_vec(&json!({"type": kind, "object": object})).unwrap_or_default();
    s.push(b'\n');
    Bytes::from(s)
}

/// Starts a watch; the returned body streams events until `timeoutSeconds` passes.
pub(crate) fn start(
    inner: Arc<Inner>,
    res: &'static ResourceDef,
    ns: &str,
    query: &Query,
) -> Result<ChannelBody, ApiError> {
    let ls = LabelSelector::parse(query.get("labelSelector").unwrap_or(""))
        .map_err(|e| ApiError::bad_request(&e))?;
    let fs = FieldSelector::parse(query.get("fieldSelector").unwrap_or(""))
        .map_err(|e| ApiError::bad_request(&e))?;
    let timeout = query
        .get("timeoutSeconds")
        .and_then(|t| t.parse::<u64>().ok())
        .unwrap_or(1800)
        .min(3600);
    let bookmarks = query.flag("allowWatchBookmarks");
    let send_initial = query.flag("sendInitialEvents");
    let rv_param = query.get("resourceVersion").unwrap_or("");
    let ns = ns.to_string();
    let matches = move |plural: &str, obj_ns: &str, obj: &Value| {
        plural == res.plural
            && (ns.is_empty() || ns == obj_ns)
            && ls.matches(obj)
            && fs.matches(obj)
    };
    let (tx, rx) = mpsc::channel::<Bytes>(1024);
    let mut initial: Vec<Bytes> = Vec::new();
    let mut last_rv;
    {
        let st = crate::util::lock(&inner.state);
        if rv_param.is_empty() || rv_param == "0" || send_initial {
            for ((p, n, _), o) in &st.objects {
                if matches(p, n, o) {
                    initial.push(line("ADDED", o));
                }
            }
            last_rv = st.rv;
            if send_initial && bookmarks {
                initial.push(line(
                    "BOOKMARK",
                    &json!({"kind": res.kind, "apiVersion": res.api_version(),
                            "metadata": {"resourceVersion": st.rv.to_string(),
                                         "annotations": {"k8s.io/initial-events-end": "true"}}}),
                ));
            }
        } else {
            let rv: u64 = rv_param.parse().map_err(|_| {
                ApiError::bad_request(&format!("invalid resource version: {rv_param}"))
            })?;
            let oldest = st.events.front().map(|e| e.rv).unwrap_or(st.rv + 1);
            if rv + 1 < oldest && st.rv > rv && st.events.len() >= crate::store::EVENT_HISTORY {
                initial.push(line(
                    "ERROR",
                    &json!({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
                            "message": format!("too old resource version: {rv} ({oldest})"),
                            "reason":"Expired","code":410}),
                ));
            }
            last_rv = rv;
        }
    }
    tokio::spawn(async move {
        for b in initial {
            if tx.send(b).await.is_err() {
                return;
            }
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(timeout);
        loop {
            let notified = inner.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let batch: Vec<Bytes> = {
                let st = crate::util::lock(&inner.state);
                let out = st
                    .events
                    .iter()
                    .filter(|e| e.rv > last_rv && matches(e.plural, &e.ns, &e.object))
                    .map(|e| line(e.kind, &e.object))
                    .collect();
                last_rv = st.rv;
                out
            };
            for b in batch {
                if tx.send(b).await.is_err() {
                    return;
                }
            }
            tokio::select! {
                _ = &mut notified => {}
                _ = tx.closed() => break,
                _ = tokio::time::sleep(Duration::from_millis(250)) => {}
                _ = tokio::time::sleep_until(deadline) => break,
            }
            if tokio::time::Instant::now() >= deadline || tx.is_closed() {
                break;
            }
        }
    });
    Ok(ChannelBody { rx })
}
