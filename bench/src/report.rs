//! The tables of the rtt sweep: per round trip, the CLI's and the service's ratios against
//! kubectl, and the service's throughput against the in-process engine's.

use std::time::Duration;

use crate::throughput::Compared;
use crate::{Pair, Run, fmt_rtt, stats};

/// Medians of one measurement in one run: kubectl's, the CLI's and the service's.
pub struct Ratios {
    kubectl_ms: f64,
    cli_ms: f64,
    /// `None` where the service has no such route (diff).
    service_ms: Option<f64>,
}

impl Ratios {
    /// From the rounds' `pair` (CLI and kubectl) and the service's runs of the same thing.
    pub fn of(pair: &Pair, service: &[Run]) -> Ratios {
        Ratios {
            kubectl_ms: stats(&Pair::walls(&pair.kubectl)).0,
            cli_ms: stats(&Pair::walls(&pair.ours)).0,
            service_ms: (!service.is_empty()).then(|| stats(&Pair::walls(service)).0),
        }
    }

    /// From the rounds' `pair` alone (no service figure).
    pub fn cli_only(pair: &Pair) -> Ratios {
        Ratios::of(pair, &[])
    }
}

/// What one rtt of the sweep measured.
pub struct SweepRow {
    /// The server's added round trip.
    pub rtt: Duration,
    /// What a `GET /version` on a kept-alive connection took (median).
    pub measured_rtt: Duration,
    pub first: Ratios,
    pub noop: Ratios,
    pub diff: Ratios,
    pub throughput: Compared,
    /// The service's `VmHWM` at the end of this rtt's measurements.
    pub peak_rss_kib: Option<u64>,
}

/// Prints the sweep's two tables.
pub fn sweep(rows: &[SweepRow], clients: usize) {
    println!(
        "\n## Per round trip: medians, and kubectl's median / ours (same run)\n\n\
         | rtt (a GET on an open connection) | measurement | kubectl | CLI | kubectl / CLI | \
         service | kubectl / service |\n|---|---|---|---|---|---|---|"
    );
    for row in rows {
        let rtt = format!(
            "{} ({:.1} ms)",
            fmt_rtt(row.rtt),
            row.measured_rtt.as_secs_f64() * 1e3
        );
        for (i, (name, r)) in [
            ("first deploy", &row.first),
            ("no-op redeploy", &row.noop),
            ("diff", &row.diff),
        ]
        .into_iter()
        .enumerate()
        {
            let service = match r.service_ms {
                Some(ms) => format!("{ms:.1} ms | {:.1}×", r.kubectl_ms / ms),
                None => "— (no route) | —".to_string(),
            };
            println!(
                "| {} | {name} | {:.1} ms | {:.1} ms | {:.1}× | {service} |",
                if i == 0 { rtt.as_str() } else { "" },
                r.kubectl_ms,
                r.cli_ms,
                r.kubectl_ms / r.cli_ms,
            );
        }
    }
    println!(
        "\n## Throughput: first deploys of distinct typical agents, {clients} concurrent callers\n\n\
         | rtt | in-process engine | service | service / in-process (target ≥ 80 %) | \
         service p50 / p99 | in-process p50 / p99 | server peak RSS (target ≤ 50 MB) |\n\
         |---|---|---|---|---|---|---|"
    );
    for row in rows {
        let t = &row.throughput;
        println!(
            "| {} | {:.1}/s ({} deploys) | {:.1}/s ({} deploys) | {:.0} % | {:.1} / {:.1} ms | \
             {:.1} / {:.1} ms | {} |",
            fmt_rtt(row.rtt),
            t.engine.per_second(),
            t.engine.latencies.len(),
            t.service.per_second(),
            t.service.latencies.len(),
            100.0 * t.service.per_second() / t.engine.per_second().max(1e-9),
            t.service.quantile_ms(0.5),
            t.service.quantile_ms(0.99),
            t.engine.quantile_ms(0.5),
            t.engine.quantile_ms(0.99),
            row.peak_rss_kib.map_or("n/a".to_string(), |k| format!(
                "{:.1} MB",
                k as f64 / 1024.0
            )),
        );
    }
}
