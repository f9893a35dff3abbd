//! The structured-merge-diff oracle (`tests/smd-oracle`): builds the Go program once per test
//! process into the target directory and talks to it one JSON line per operation.
#![allow(dead_code)]

use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

/// How to install what the oracle needs (also in `.ci/run`).
pub const INSTALL: &str =
    "apt-get update && apt-get install -y golang-go golang-k8s-sigs-structured-merge-diff-dev";

/// Where Debian installs Go sources (`golang-*-dev` packages).
const GOCODE: &str = "/usr/share/gocode/src";

/// The repository's `tests/smd-oracle`.
pub fn oracle_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../smd-oracle")
}

/// The structured-merge-diff schema converted from the 1.32 schemas (`gen_schema.py`).
pub fn schema_path() -> PathBuf {
    oracle_dir().join("schema-1.32.json")
}

/// The target directory this test binary was built into (`target/debug/deps/<test>`).
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary has a path");
    exe.ancestors()
        .nth(3)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("target"))
}

/// Builds the oracle (GOPATH mode: Debian's structured-merge-diff v4.1.2 has no `/v4` in its
/// path, so a directory of symbolic links provides `sigs.k8s.io/structured-merge-diff/v4`
/// and its dependencies) and returns the binary. Panics, naming the install command, if Go or
/// the library is missing: the oracle tests must not pass by skipping.
pub fn build() -> PathBuf {
    let root = target_dir().join("smd-oracle");
    let gopath = root.join("gopath");
    let links = [
        (
            "sigs.k8s.io/structured-merge-diff/v4",
            "sigs.k8s.io/structured-merge-diff",
        ),
        ("github.com/json-iterator/go", "github.com/json-iterator/go"),
        (
            "github.com/modern-go/concurrent",
            "github.com/modern-go/concurrent",
        ),
        (
            "github.com/modern-go/reflect2",
            "github.com/modern-go/reflect2",
        ),
        ("gopkg.in/yaml.v2", "gopkg.in/yaml.v2"),
    ];
    for (link, target) in links {
        let source = Path::new(GOCODE).join(target);
        assert!(
            source.is_dir(),
            "{} is missing: the structured-merge-diff oracle needs `{INSTALL}`",
            source.display()
        );
        let link = gopath.join("src").join(link);
        if link.exists() {
            continue;
        }
        std::fs::create_dir_all(link.parent().expect("a link has a parent"))
            .expect("create the GOPATH directory");
        // Another test process may make the same link at the same time.
        if let Err(e) = std::os::unix::fs::symlink(&source, &link)
            && e.kind() != std::io::ErrorKind::AlreadyExists
        {
            panic!("link {} -> {}: {e}", link.display(), source.display());
        }
    }
    let bin = root.join("smd-oracle");
    // A private output name, renamed into place: test processes build side by side.
    let tmp = root.join(format!("smd-oracle.{}", std::process::id()));
    let out = Command::new("go")
        .args(["build", "-o"])
        .arg(&tmp)
        .arg(".")
        .current_dir(oracle_dir())
        .env("GO111MODULE", "off")
        .env("GOPATH", &gopath)
        .env("GOCACHE", root.join("gocache"))
        .env("GOFLAGS", "")
        .output()
        .unwrap_or_else(|e| panic!("cannot run `go` ({e}): the oracle needs `{INSTALL}`"));
    assert!(
        out.status.success(),
        "go build of tests/smd-oracle failed (needs `{INSTALL}`):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::rename(&tmp, &bin).expect("move the oracle binary into place");
    bin
}

/// A running oracle.
pub struct Oracle {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    /// Requests answered so far.
    pub calls: usize,
}

impl Oracle {
    /// Builds and starts the oracle with the 1.32 schema.
    pub fn start() -> Oracle {
        let bin = build();
        let mut child = Command::new(bin)
            .arg(schema_path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the oracle");
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        Oracle {
            child,
            stdin,
            stdout,
            calls: 0,
        }
    }

    /// One request, one answer (see `tests/smd-oracle/main.go`).
    pub fn call(&mut self, req: &Value) -> Value {
        let mut line = serde_json::to_vec(req).expect("a request serialises");
        line.push(b'\n');
        self.stdin.write_all(&line).expect("write to the oracle");
        self.stdin.flush().expect("flush to the oracle");
        let mut answer = String::new();
        self.stdout
            .read_line(&mut answer)
            .expect("read from the oracle");
        assert!(!answer.is_empty(), "the oracle exited");
        self.calls += 1;
        serde_json::from_str(&answer).expect("the oracle answers JSON")
    }
}

impl Drop for Oracle {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
