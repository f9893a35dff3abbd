//! Every golden case on a cluster: `deploy` of the case's request and build to test-apiserver
//! answers `success`, a second deploy finds every object `unchanged`, and `diff` then exits 0.
//! A case whose dry run fails (an expected error) must fail the same way on a cluster, without
//! writing anything.
//!
//! One test per case, named after its directory (libtest-mimic, `harness = false`):
//!
//! ```sh
//! cargo nextest run -p kubectl-astro --test golden_cluster
//! ```

mod support;

use std::path::{Path, PathBuf};

use libtest_mimic::{Arguments, Failed, Trial};
use serde_json::Value;
use support::Env;

/// Flags that only shape `--dry-run` output; a deploy or a diff refuses or ignores them.
fn cluster_args(dry_run_args: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut it = dry_run_args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--show-secrets" => {}
            "-o" | "--output" => {
                it.next();
            }
            _ => out.push(a.clone()),
        }
    }
    out
}

fn case_args(case: &Path) -> Result<Vec<String>, String> {
    let text = support::read_optional(&case.join("args"))?.unwrap_or_default();
    let args: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .flat_map(|l| l.split_whitespace().map(String::from).collect::<Vec<_>>())
        .collect();
    Ok(cluster_args(&args))
}

/// `<command> -f request.yaml --build build.yaml <case args>` with absolute paths.
fn command(command: &str, case: &Path, extra: &[String]) -> Vec<String> {
    let mut v = vec![
        command.to_string(),
        "-f".into(),
        case.join("request.yaml").display().to_string(),
        "--build".into(),
        case.join("build.yaml").display().to_string(),
    ];
    v.extend(extra.iter().cloned());
    v
}

/// Whether the dry run of the case fails (an expected error case).
fn dry_run_fails(case: &Path) -> Result<bool, String> {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kubectl-astro"))
        .current_dir(case)
        .env_remove("RUST_LOG")
        .args(support::DRY_RUN)
        .output()
        .map_err(|e| format!("cannot run kubectl-astro: {e}"))?;
    Ok(!out.status.success())
}

async fn run_case(case: PathBuf) -> Result<(), String> {
    let extra = case_args(&case)?;
    let env = Env::new().await;
    let deploy = command("deploy", &case, &extra);
    let (code, out, err) = env.run(&deploy).await;
    if dry_run_fails(&case)? {
        if code == 0 {
            return Err(format!(
                "the dry run fails, the deploy does not:\n{out}{err}"
            ));
        }
        let writes = env
            .server
            .request_log()
            .iter()
            .filter(|r| r.method != "GET")
            .count();
        return match writes {
            0 => Ok(()),
            n => Err(format!("a failing deploy wrote {n} times")),
        };
    }
    let resp: Value = serde_json::from_str(&out).map_err(|e| format!("{e}: {out}{err}"))?;
    if code != 0 || resp["status"] != "success" {
        return Err(format!("first deploy: exit {code}\n{resp:#}\n{err}"));
    }
    let (code, out, err) = env.run(&deploy).await;
    let resp: Value = serde_json::from_str(&out).map_err(|e| format!("{e}: {out}{err}"))?;
    let changed: Vec<(String, String)> = support::actions(&resp)
        .into_iter()
        .filter(|(_, a)| a != "unchanged")
        .collect();
    if code != 0 || resp["status"] != "success" || !changed.is_empty() {
        return Err(format!(
            "redeploy: exit {code}, not unchanged: {changed:?}\n{resp:#}\n{err}"
        ));
    }
    if support::actions(&resp).is_empty() {
        return Err(format!("redeploy lists no objects: {resp:#}"));
    }
    let (code, out, err) = env.run(&command("diff", &case, &extra)).await;
    if code != 0 {
        return Err(format!("diff after deploy: exit {code}\n{out}{err}"));
    }
    Ok(())
}

fn main() {
    let args = Arguments::from_args();
    let dir = support::repo_root().join("tests").join("golden");
    let entries = support::sorted_entries(&dir);
    let mut trials = Vec::new();
    match entries {
        Err(e) => trials.push(Trial::test("golden_cases_readable", move || {
            Err(Failed::from(e.clone()))
        })),
        Ok(paths) => {
            let cases: Vec<PathBuf> = paths.into_iter().filter(|p| p.is_dir()).collect();
            let count = cases.len();
            trials.push(Trial::test("at_least_12_cases_on_a_cluster", move || {
                if count >= 12 {
                    Ok(())
                } else {
                    Err(format!("only {count} golden cases").into())
                }
            }));
            for case in cases {
                let name = case
                    .file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or("case")
                    .to_string();
                trials.push(Trial::test(name, move || {
                    let rt = tokio::runtime::Builder::new_multi_thread()
                        .worker_threads(2)
                        .enable_all()
                        .build()
                        .map_err(|e| format!("tokio runtime: {e}"))?;
                    rt.block_on(run_case(case)).map_err(Failed::from)
                }));
            }
        }
    }
    libtest_mimic::run(&args, trials).exit();
}
