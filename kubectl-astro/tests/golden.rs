//! Golden tests: every directory under `tests/golden/` holds a `request.yaml`, a `build.yaml`,
//! optional `args` (extra CLI flags, one per line) and `expected.yaml`, byte for byte what
//! `kubectl-astro deploy --dry-run -f request.yaml --build build.yaml <args>` prints.
//!
//! Each case is its own test, named after its directory (libtest-mimic, `harness = false`), so
//! a failure names its case and nextest runs the cases in parallel.
//! `UPDATE_GOLDEN=1 cargo nextest run -p kubectl-astro --test golden` rewrites the expected
//! files; otherwise any difference fails with a unified diff.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use libtest_mimic::{Arguments, Failed, Trial};
use similar::TextDiff;

/// Fewer cases than this means the corpus lost some.
const MIN_CASES: usize = 12;

/// Runs the dry run of one case; `Err` describes a failed run.
fn render(case: &Path) -> Result<String, String> {
    let out = Command::new(env!("CARGO_BIN_EXE_kubectl-astro"))
        .current_dir(case)
        .env_remove("RUST_LOG") // stderr is part of some cases; logs must not join it
        .args(support::DRY_RUN)
        .args(support::golden_args(case)?)
        .output()
        .map_err(|e| format!("cannot run kubectl-astro: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    if !out.status.success() {
        return Err(format!(
            "dry run failed: exit {:?}\nstdout:\n{stdout}\nstderr:\n{stderr}",
            out.status.code()
        ));
    }
    if stderr.contains("panicked") {
        return Err(format!("panicked:\n{stderr}"));
    }
    Ok(stdout)
}

/// One case: the dry run prints `expected.yaml` byte for byte (or, updating, rewrites it).
fn check(case: &Path, update: bool) -> Result<(), Failed> {
    let actual = render(case)?;
    let expected_path = case.join("expected.yaml");
    if update {
        return std::fs::write(&expected_path, &actual)
            .map_err(|e| format!("cannot write {}: {e}", expected_path.display()).into());
    }
    let expected = support::read_optional(&expected_path)?.ok_or_else(|| {
        format!(
            "{} is missing (UPDATE_GOLDEN=1 writes it)",
            expected_path.display()
        )
    })?;
    if expected == actual {
        return Ok(());
    }
    let diff = TextDiff::from_lines(&expected, &actual)
        .unified_diff()
        .context_radius(3)
        .header("expected.yaml", "actual")
        .to_string();
    Err(format!("output differs (UPDATE_GOLDEN=1 regenerates after review):\n{diff}").into())
}

/// The same dry run is byte-identical run to run (no clock, no randomness).
fn deterministic(cases: &[PathBuf]) -> Result<(), Failed> {
    for case in cases {
        let a = render(case)?;
        let b = render(case)?;
        if a != b {
            return Err(format!("{} differs between runs", case.display()).into());
        }
    }
    Ok(())
}

fn main() {
    let args = Arguments::from_args();
    let update = std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1");
    let cases = support::golden_cases();
    let found = cases.as_ref().map(Vec::len).map_err(Clone::clone);
    let cases = cases.unwrap_or_default();
    let mut trials = vec![
        Trial::test("corpus_holds_at_least_12_cases", move || match found? {
            n if n >= MIN_CASES => Ok(()),
            n => Err(format!("expected at least {MIN_CASES} golden cases, found {n}").into()),
        }),
        {
            let first = cases.iter().take(3).cloned().collect::<Vec<_>>();
            Trial::test("golden_output_is_deterministic", move || {
                deterministic(&first)
            })
        },
    ];
    for case in cases {
        let trial = match support::golden_case_name(&case) {
            Ok(name) => Trial::test(name, move || check(&case, update)),
            Err(e) => Trial::test(case.display().to_string(), move || Err(e.into())),
        };
        trials.push(trial);
    }
    libtest_mimic::run(&args, trials).exit();
}
