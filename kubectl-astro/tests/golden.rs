//! Golden tests: every directory under `tests/golden/` holds a `request.yaml`, a `build.yaml`,
//! optional `args` (extra CLI flags, one per line) and `expected.yaml`, byte for byte what
//! `kubectl-astro deploy --dry-run -f request.yaml --build build.yaml <args>` prints.
//!
//! `UPDATE_GOLDEN=1 cargo nextest run -p kubectl-astro --test golden` rewrites the expected
//! files; otherwise any difference fails with a unified diff. Every case is checked and every
//! failing case is reported, not only the first.

use std::path::{Path, PathBuf};
use std::process::Command;

use similar::TextDiff;

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("tests")
        .join("golden")
}

fn cases() -> Vec<PathBuf> {
    let mut cases: Vec<PathBuf> = std::fs::read_dir(golden_dir())
        .expect("tests/golden is readable")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("request.yaml").is_file())
        .collect();
    cases.sort();
    cases
}

fn extra_args(case: &Path) -> Vec<String> {
    match std::fs::read_to_string(case.join("args")) {
        Ok(text) => text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(String::from)
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// Runs the dry run of one case; `Err` describes a failed run.
fn render(case: &Path) -> Result<String, String> {
    let out = Command::new(env!("CARGO_BIN_EXE_kubectl-astro"))
        .current_dir(case)
        .env_remove("RUST_LOG") // stderr is part of some cases; logs must not join it
        .args([
            "deploy",
            "--dry-run",
            "-f",
            "request.yaml",
            "--build",
            "build.yaml",
        ])
        .args(extra_args(case))
        .output()
        .map_err(|e| format!("cannot run kubectl-astro: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    if !out.status.success() {
        return Err(format!(
            "exit {:?}\nstdout:\n{stdout}\nstderr:\n{stderr}",
            out.status.code()
        ));
    }
    if stderr.contains("panicked") {
        return Err(format!("panicked:\n{stderr}"));
    }
    Ok(stdout)
}

#[test]
fn golden_cases() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1");
    let cases = cases();
    assert!(
        cases.len() >= 12,
        "expected at least 12 golden cases, found {}",
        cases.len()
    );
    let mut failures = Vec::new();
    for case in &cases {
        let name = case
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let actual = match render(case) {
            Ok(a) => a,
            Err(e) => {
                failures.push(format!("== {name}: dry run failed: {e}"));
                continue;
            }
        };
        let expected_path = case.join("expected.yaml");
        if update {
            std::fs::write(&expected_path, &actual).expect("expected.yaml is writable");
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if expected != actual {
            let diff = TextDiff::from_lines(&expected, &actual)
                .unified_diff()
                .context_radius(3)
                .header("expected.yaml", "actual")
                .to_string();
            failures.push(format!("== {name}: output differs\n{diff}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} golden cases failed (UPDATE_GOLDEN=1 regenerates after review):\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// The same dry run is byte-identical run to run (no clock, no randomness).
#[test]
fn golden_output_is_deterministic() {
    for case in cases().iter().take(3) {
        let a = render(case).expect("first run succeeds");
        let b = render(case).expect("second run succeeds");
        assert_eq!(a, b, "{} differs between runs", case.display());
    }
}
