//! Checks a DeployRequest against the build it deploys: names, interfaces, schedules and
//! credential keys. Every problem is collected before anything is returned.

use std::collections::BTreeSet;

use crate::api::DeployRequest;
use crate::catalog::Build;
use crate::error::FieldError;
use crate::input::printable;
use crate::naming;

/// Interface adapters the plugin can run.
pub const ADAPTERS: &[&str] = &["slack", "web"];

/// Largest accepted credential value, in bytes.
pub const MAX_CREDENTIAL_BYTES: usize = 64 * 1024;

/// Largest accepted sum of credential values (a Secret holds at most 1 MiB).
pub const MAX_CREDENTIALS_TOTAL_BYTES: usize = 512 * 1024;

/// Checks the request's own fields and its fit with `build`; returns every problem.
pub fn check(request: &DeployRequest, build: &Build) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut err = |f: String, m: String| errors.push(FieldError::new(f, m));
    if let Err(m) = naming::check_account(&request.account) {
        err("account".into(), m);
    }
    if let Err(m) = naming::check_agent_name(&request.name) {
        err("name".into(), m);
    }
    if let Some(src) = &request.source_account
        && let Err(m) = naming::check_account(src)
    {
        err("source_account".into(), m);
    }
    let record = &build.record;
    if request.name != record.name {
        err(
            "name".into(),
            format!(
                "request is for agent '{}' but the build record is for '{}'",
                printable(&request.name),
                record.name
            ),
        );
    }
    let owner = request
        .source_account
        .as_deref()
        .unwrap_or(&request.account);
    if record.account != owner {
        err(
            if request.source_account.is_some() {
                "source_account"
            } else {
                "account"
            }
            .into(),
            format!(
                "build '{}' belongs to account '{}', not '{}'",
                record.build_id,
                record.account,
                printable(owner)
            ),
        );
    }
    if request.source_account.is_some() && record.version.is_none() {
        err(
            "source_account".into(),
            format!(
                "build '{}' is not published; cross-account deploys need a published version",
                record.build_id
            ),
        );
    }

    // Interfaces.
    let messaging = build.spec.agent.effective_interfaces().messaging;
    let mut seen = BTreeSet::new();
    for (i, adapter) in request.interfaces.iter().enumerate() {
        if !ADAPTERS.contains(&adapter.as_str()) {
            err(
                format!("interfaces[{i}]"),
                format!(
                    "unknown interface '{}'; expected one of slack, web",
                    printable(adapter)
                ),
            );
        } else if !seen.insert(adapter.as_str()) {
            err(
                format!("interfaces[{i}]"),
                format!("'{adapter}' is listed twice"),
            );
        }
    }
    if !request.interfaces.is_empty() && !messaging {
        err(
            "interfaces".into(),
            format!(
                "agent '{}' does not support messaging (agent.interfaces.messaging is false), so no interface adapters can be enabled",
                record.name
            ),
        );
    }

    // Schedules.
    for (name, ingestion) in &build.spec.ingestion {
        let is_schedule = ingestion
            .trigger
            .as_ref()
            .is_some_and(|t| t.kind == "schedule");
        if is_schedule && !request.schedules.contains_key(name) {
            err(
                format!("schedules.{name}"),
                format!("ingestion '{name}' has a schedule trigger and needs a cron expression"),
            );
        }
    }
    for (name, cron) in &request.schedules {
        match build.spec.ingestion.get(name) {
            None => err(
                format!("schedules.{}", printable(name)),
                "names no ingestion of this agent".into(),
            ),
            Some(i) if i.trigger.as_ref().is_none_or(|t| t.kind != "schedule") => err(
                format!("schedules.{name}"),
                format!(
                    "ingestion '{name}' has trigger '{}', not schedule",
                    i.trigger.as_ref().map(|t| t.kind.as_str()).unwrap_or("")
                ),
            ),
            Some(_) => {
                if let Err(m) = check_cron(cron) {
                    err(format!("schedules.{name}"), m);
                }
            }
        }
    }

    // Credentials.
    let mut total = 0usize;
    for (key, value) in &request.user_credentials {
        if !naming::is_env_name(key) {
            err(
                format!("user_credentials.{}", printable(key)),
                "is not a valid environment variable name ([A-Za-z_][A-Za-z0-9_]*)".into(),
            );
        }
        if value.len() > MAX_CREDENTIAL_BYTES {
            err(
                format!("user_credentials.{}", printable(key)),
                format!(
                    "value is {} bytes; the limit is {MAX_CREDENTIAL_BYTES}",
                    value.len()
                ),
            );
        }
        total += value.len();
    }
    if total > MAX_CREDENTIALS_TOTAL_BYTES {
        err(
            "user_credentials".into(),
            format!("values total {total} bytes; the limit is {MAX_CREDENTIALS_TOTAL_BYTES}"),
        );
    }
    errors
}

/// Accepts exactly the standard 5-field cron (minute hour day-of-month month day-of-week)
/// that the platform and Kubernetes agree on: no seconds, no `@` macros, no `L`/`W`/`#`.
pub fn check_cron(expr: &str) -> Result<(), String> {
    let fields: Vec<&str> = expr.split_whitespace().collect();
    if expr.starts_with('@') {
        return Err(format!(
            "'{}': macros such as @daily are not accepted; use 5 fields",
            printable(expr)
        ));
    }
    if fields.len() != 5 {
        return Err(format!(
            "'{}' has {} fields; a cron schedule has 5 (minute hour day-of-month month day-of-week)",
            printable(expr),
            fields.len()
        ));
    }
    if fields[2].chars().any(|c| c.is_ascii_alphabetic()) || fields[4].contains(['#', 'L', 'l']) {
        return Err(format!(
            "'{}': L, W and # are not supported",
            printable(expr)
        ));
    }
    croner::Cron::new(&fields.join(" "))
        .parse()
        .map(|_| ())
        .map_err(|e| format!("invalid cron expression '{}': {e}", printable(expr)))
}

#[cfg(test)]
mod tests {
    use super::check_cron;

    #[test]
    fn cron_accepts_standard_five_fields() {
        for ok in [
            "0 * * * *",
            "*/15 0-6 1,15 JAN-MAR MON-FRI",
            "0 */6 * * *",
            "5 4 * * sun",
        ] {
            assert!(check_cron(ok).is_ok(), "{ok}: {:?}", check_cron(ok));
        }
    }

    #[test]
    fn cron_rejects_everything_else() {
        for bad in [
            "",
            "* * * *",
            "0 0 * * * *",
            "@daily",
            "61 * * * *",
            "0 25 * * *",
            "0 0 L * *",
            "0 0 * * 5#3",
            "x * * * *",
        ] {
            assert!(check_cron(bad).is_err(), "{bad} accepted");
        }
    }
}
