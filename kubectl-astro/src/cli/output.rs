//! Every byte the commands print goes through here, so that no print can panic (`println!`
//! does when its write fails).
//!
//! Standard output: a reader that went away — `kubectl astro diff | head` — is not an error.
//! The command prints nothing more, says nothing about it, and exits with the code it would
//! have had anyway: the reader chose to read less, which changes neither what was deployed nor
//! whether there were changes (the README's exit codes). Any other failed write (a full disk
//! behind `> file`) fails the command (exit 1, one line on stderr).
//!
//! Standard error: diagnostics are best effort; a failed write there is dropped.

use std::fmt::Display;
use std::io::{self, IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};

use super::exit::Failure;

/// Set once a write to stdout found its reader gone: later writes are skipped.
static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);

/// Writes `text` to stdout and flushes it. A closed pipe ends the output quietly (`Ok`, and
/// every later write is skipped); any other failure is a [`Failure`] (exit 1).
pub fn out(text: &str) -> Result<(), Failure> {
    write_to(&mut io::stdout().lock(), text.as_bytes())
}

/// Writes `bytes` to `w` and flushes it, as [`out`] does for stdout.
fn write_to(w: &mut impl Write, bytes: &[u8]) -> Result<(), Failure> {
    if STDOUT_CLOSED.load(Ordering::Relaxed) {
        return Ok(());
    }
    match w.write_all(bytes).and_then(|()| w.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
            STDOUT_CLOSED.store(true, Ordering::Relaxed);
            Ok(())
        }
        Err(e) => Err(kubectl_astro::Error::Failed(format!(
            "cannot write to standard output: {e}"
        ))
        .into()),
    }
}

/// Prints `value` as pretty JSON and a newline on stdout.
pub fn print_json<T: serde::Serialize + ?Sized>(value: &T) -> Result<(), Failure> {
    let text = serde_json::to_string_pretty(value).map_err(|e| {
        Failure::from(kubectl_astro::Error::Failed(format!(
            "cannot print JSON: {e}"
        )))
    })?;
    out(&(text + "\n"))
}

/// Prints `line` and a newline on stderr; a failed write is dropped (diagnostics are best
/// effort, and must never end a command).
pub fn err_line(line: impl Display) {
    let _ = writeln!(io::stderr().lock(), "{line}");
}

/// Prints `text` as it is on stderr, best effort like [`err_line`].
pub fn err_text(text: &str) {
    let _ = io::stderr().lock().write_all(text.as_bytes());
}

/// Whether stdout is a terminal (not a pipe or a file).
pub fn stdout_is_terminal() -> bool {
    io::stdout().is_terminal()
}

/// Whether stderr is a terminal.
pub fn stderr_is_terminal() -> bool {
    io::stderr().is_terminal()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer failing every write with `kind`.
    struct Failing(io::ErrorKind);

    impl Write for Failing {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::from(self.0))
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_full_disk_is_a_failure_naming_stdout() {
        let failure = write_to(&mut Failing(io::ErrorKind::StorageFull), b"x")
            .err()
            .map(|f| (f.code, f.body.details));
        let (code, details) = failure.unwrap_or_default();
        assert_eq!(code, 1);
        assert!(
            details.starts_with("cannot write to standard output"),
            "{details}"
        );
    }
}
