//! `kubectl astro list`: the deployments kubectl-astro made, as a table or JSON/YAML.

use kubectl_astro::ListOptions;
use kubectl_astro::list::Deployment;

use super::args::{ListArgs, ListOutput};
use super::exit::{Failure, code};
use super::output::{err_line, out};
use super::{print_json, runtime, table};

/// Runs `list`; returns the exit code.
pub fn run(args: &ListArgs) -> Result<i32, Failure> {
    let options = ListOptions::default().account(args.account.clone());
    let deployments = runtime()?.block_on(async {
        let cluster = args.cluster.connect().await?;
        Ok::<_, Failure>(kubectl_astro::list(&cluster, &options).await?)
    })?;
    let listing = serde_json::json!({"deployments": deployments, "count": deployments.len()});
    match args.output {
        Some(ListOutput::Json) => print_json(&listing)?,
        Some(ListOutput::Yaml) => out(&astro_deploy::render::yaml_document(&listing)?)?,
        None if deployments.is_empty() => err_line("No deployments found."),
        None => out(&text(&deployments, chrono::Utc::now()))?,
    }
    Ok(code::SUCCESS)
}

/// The table: one row per deployment, its age counted from `now`.
fn text(deployments: &[Deployment], now: chrono::DateTime<chrono::Utc>) -> String {
    let rows: Vec<Vec<String>> = deployments
        .iter()
        .map(|d| {
            let status = serde_json::to_value(d.status)
                .ok()
                .and_then(|v| v.as_str().map(capitalised))
                .unwrap_or_default();
            vec![
                d.name.clone(),
                d.account.clone(),
                d.build_id.clone(),
                status,
                format!("{}/{}", d.ready, d.workloads),
                age(&d.created_at, now),
                d.endpoints.join(","),
            ]
        })
        .collect();
    let headers = [
        "NAME",
        "ACCOUNT",
        "BUILD",
        "STATUS",
        "READY",
        "AGE",
        "ENDPOINTS",
    ];
    table::render(&headers, &rows)
}

/// `ready` → `Ready`.
fn capitalised(s: &str) -> String {
    let mut chars = s.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// The age of `created_at` (RFC 3339) at `now`, as kubectl prints it: `45s`, `5m30s`, `42m`,
/// `3h20m`, `20h`, `3d4h`, `45d`, `2y30d`, `9y`; `<unknown>` when it cannot be read.
fn age(created_at: &str, now: chrono::DateTime<chrono::Utc>) -> String {
    let Ok(created) = chrono::DateTime::parse_from_rfc3339(created_at) else {
        return "<unknown>".into();
    };
    let s = (now - created.with_timezone(&chrono::Utc))
        .num_seconds()
        .max(0);
    let (m, h, d) = (s / 60, s / 3600, s / 86400);
    let with = |a: i64, unit_a: &str, b: i64, unit_b: &str| {
        if b == 0 {
            format!("{a}{unit_a}")
        } else {
            format!("{a}{unit_a}{b}{unit_b}")
        }
    };
    match () {
        _ if s < 120 => format!("{s}s"),
        _ if m < 10 => with(m, "m", s % 60, "s"),
        _ if h < 3 => format!("{m}m"),
        _ if h < 8 => with(h, "h", m % 60, "m"),
        _ if h < 48 => format!("{h}h"),
        _ if d < 8 => with(d, "d", h % 24, "h"),
        _ if d < 365 * 2 => format!("{d}d"),
        _ if d < 365 * 8 => with(d / 365, "y", d % 365, "d"),
        _ => format!("{}y", d / 365),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_as_kubectl_prints_them() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-12-06T12:00:00Z")
            .map(|t| t.with_timezone(&chrono::Utc))
            .unwrap_or_default();
        for (created, want) in [
            ("2026-12-06T11:59:15Z", "45s"),
            ("2026-12-06T11:54:30Z", "5m30s"),
            ("2026-12-06T11:55:00Z", "5m"),
            ("2026-12-06T11:18:00Z", "42m"),
            ("2026-12-06T08:40:00Z", "3h20m"),
            ("2026-12-05T16:00:00Z", "20h"),
            ("2026-12-02T08:00:00Z", "4d4h"),
            ("2026-10-22T12:00:00Z", "45d"),
            ("2024-11-06T12:00:00Z", "2y30d"),
            ("2017-12-06T12:00:00Z", "9y"),
            ("2026-12-06T12:00:05Z", "0s"),
            ("yesterday", "<unknown>"),
        ] {
            assert_eq!(age(created, now), want, "{created}");
        }
    }

    #[test]
    fn status_is_capitalised_as_kubectl_shows_phases() {
        assert_eq!(capitalised("progressing"), "Progressing");
        assert_eq!(capitalised(""), "");
    }
}
