//! Diagnostic logs: `-v`, `-vv`, `-vvv` or `RUST_LOG`, written to stderr only (stdout stays
//! the command's JSON or manifests). Without any of them nothing is set up at all, so a plain
//! run pays nothing and prints what it always printed.
//!
//! What is logged never includes a credential: requests are logged by method, path and
//! status (never headers or bodies), the connection by server URL and the kind of
//! authentication (never the token, certificate or key). `tests/secret_audit.rs` runs every
//! command path at `-vvv` and at `RUST_LOG=trace` and fails on any credential in the output.

use tracing::{Level, Metadata};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::prelude::*;

/// The filter directives for `-v` repeated `verbose` times: none for 0.
fn directives(verbose: u8) -> Option<&'static str> {
    match verbose {
        0 => None,
        1 => Some("kubectl_astro=info"),
        // Not `kube=`: a target prefix, it would match `kubectl_astro` too.
        2 => Some("kubectl_astro=debug,kube_client=info,kube_core=info"),
        _ => Some("trace"),
    }
}

/// Targets that log a credential at some level, and the most verbose level they may log at
/// whatever the filter says (a hard limit: `RUST_LOG` cannot lift it). kube's configuration
/// loader traces the kubeconfig parse error, whose text quotes the kubeconfig lines around the
/// mistake — bearer tokens and client keys included.
const CAPS: &[(&str, Level)] = &[("kube_client::config", Level::DEBUG)];

/// Whether an event or span passes [`CAPS`].
fn allowed(meta: &Metadata<'_>) -> bool {
    CAPS.iter()
        .all(|(target, max)| !meta.target().starts_with(target) || meta.level() <= max)
}

/// Installs the stderr log subscriber when `-v` was given or `RUST_LOG` is set (`RUST_LOG`
/// wins); does nothing otherwise.
pub fn init(verbose: u8) {
    let from_env = std::env::var("RUST_LOG")
        .ok()
        .filter(|v| !v.trim().is_empty());
    let text = match (&from_env, directives(verbose)) {
        (Some(env), _) => env.as_str(),
        (None, Some(d)) => d,
        (None, None) => return,
    };
    let filter = EnvFilter::builder().with_regex(false).parse_lossy(text);
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_filter(filter_fn(allowed));
    // Another subscriber already installed (cannot happen in the binary) is not an error.
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(layer)
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_by_count() {
        assert_eq!(directives(0), None);
        assert_eq!(directives(1), Some("kubectl_astro=info"));
        assert_eq!(
            directives(2),
            Some("kubectl_astro=debug,kube_client=info,kube_core=info")
        );
        assert_eq!(directives(3), Some("trace"));
        assert_eq!(directives(9), Some("trace"));
        for d in [directives(1), directives(2), directives(3)]
            .into_iter()
            .flatten()
        {
            assert!(EnvFilter::builder().parse(d).is_ok(), "{d}");
        }
    }

    #[test]
    fn kube_config_traces_are_capped() {
        use tracing::callsite::Identifier;
        use tracing::field::FieldSet;
        use tracing::metadata::Kind;
        struct Site;
        impl tracing::callsite::Callsite for Site {
            fn set_interest(&self, _: tracing::subscriber::Interest) {}
            fn metadata(&self) -> &Metadata<'_> {
                unreachable!()
            }
        }
        static SITE: Site = Site;
        let meta = |target: &'static str, level: Level| {
            Metadata::new(
                "event",
                target,
                level,
                None,
                None,
                None,
                FieldSet::new(&[], Identifier(&SITE)),
                Kind::EVENT,
            )
        };
        assert!(!allowed(&meta("kube_client::config", Level::TRACE)));
        assert!(allowed(&meta("kube_client::config", Level::DEBUG)));
        assert!(allowed(&meta("kube_client::client::builder", Level::TRACE)));
        assert!(allowed(&meta("kubectl_astro::cluster", Level::TRACE)));
    }
}
