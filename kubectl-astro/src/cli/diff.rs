//! `kubectl astro diff`: what deploy would change. Exit 0 no changes, 1 changes, >1 error.

use std::ffi::OsStr;

use kubectl_astro::{Change, DiffOptions, ObjectDiff, Plan};

use super::args::{ColorChoice, DiffArgs, DiffOutput};
use super::exit::Failure;
use super::output::{out, stdout_is_terminal};
use super::{inputs, leave, print_json, runtime};

/// Runs `diff`; returns the exit code.
pub fn run(args: &DiffArgs) -> Result<i32, Failure> {
    let req = inputs::request(&args.request)?;
    let templates = args.render.templates()?;
    let local = inputs::local_build(&args.request, &req)?;
    let colour = colour(
        args.color,
        stdout_is_terminal(),
        std::env::var_os("NO_COLOR").as_deref(),
    );
    let runtime = runtime()?;
    let code = runtime.block_on(async {
        let cluster = args.cluster.connect().await?;
        let build = inputs::build_for_cluster(local, &cluster, &req).await?;
        let plan = Plan::new(&req, &build, &args.render.resolve_options(), &templates)?;
        let options = DiffOptions::default().concurrency(args.concurrency);
        let diffs = kubectl_astro::diff(&cluster, &plan, &options).await?;
        let changed: Vec<_> = diffs
            .iter()
            .filter(|d| d.change != Change::Unchanged)
            .collect();
        match args.output {
            DiffOutput::Json => print_json(&changed)?,
            DiffOutput::Text => out(&text(&changed, colour))?,
        }
        let code = if changed.is_empty() { 0 } else { 1 };
        leave((diffs, plan, build, cluster));
        Ok(code)
    });
    leave((runtime, templates, req));
    code
}

/// Whether to colour: `always` and `never` say it; `auto` colours only a terminal, and only
/// while `NO_COLOR` is unset or empty (no-color.org). An explicit `--color always` is the
/// user's word for this one run and wins over `NO_COLOR`, as no-color.org asks of
/// command-line flags.
pub fn colour(choice: ColorChoice, terminal: bool, no_color: Option<&OsStr>) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => terminal && no_color.is_none_or(OsStr::is_empty),
    }
}

/// The text output: each changed object's unified diff, then its note and would-be conflicts
/// as `#` lines.
fn text(changed: &[&ObjectDiff], colour: bool) -> String {
    let mut text = String::new();
    for d in changed {
        text.push_str(&painted(&d.diff, colour));
        if let Some(n) = &d.note {
            text.push_str(&format!("# {}/{}: {n}\n", d.kind, d.name));
        }
        for c in &d.conflicts {
            text.push_str(&format!("# would conflict: {}/{}: {c}\n", d.kind, d.name));
        }
    }
    text
}

/// `diff` (a unified diff) as it is, or with each line painted when `colour`.
pub fn painted(diff: &str, colour: bool) -> String {
    if !colour {
        return diff.to_string();
    }
    let mut text = String::new();
    for line in diff.lines() {
        paint(&mut text, line, colour);
        text.push('\n');
    }
    text
}

/// Appends `line` to `text`, in colour as `git diff` and `kubectl diff` show it when `colour`:
/// file headers bold, removed lines red, added lines green, hunk headers cyan.
fn paint(text: &mut String, line: &str, colour: bool) {
    let code = if !colour {
        None
    } else if line.starts_with("+++") || line.starts_with("---") {
        Some("1")
    } else if line.starts_with('+') {
        Some("32")
    } else if line.starts_with('-') {
        Some("31")
    } else if line.starts_with("@@") {
        Some("36")
    } else {
        None
    };
    match code {
        Some(code) => text.push_str(&format!("\x1b[{code}m{line}\x1b[0m")),
        None => text.push_str(line),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_colours_only_a_terminal_without_no_color() {
        let set = Some(OsStr::new("1"));
        let empty = Some(OsStr::new(""));
        assert!(colour(ColorChoice::Auto, true, None));
        assert!(
            colour(ColorChoice::Auto, true, empty),
            "empty NO_COLOR is unset"
        );
        assert!(!colour(ColorChoice::Auto, true, set));
        assert!(!colour(ColorChoice::Auto, false, None));
        assert!(colour(ColorChoice::Always, false, set), "the flag wins");
        assert!(!colour(ColorChoice::Never, true, None));
    }

    #[test]
    fn removed_lines_red_added_green() {
        let mut text = String::new();
        for line in [
            "--- live",
            "+++ merged",
            "@@ -1 +1 @@",
            "-a: 1",
            "+a: 2",
            " b: 3",
        ] {
            paint(&mut text, line, true);
            text.push('\n');
        }
        assert_eq!(
            text,
            "\x1b[1m--- live\x1b[0m\n\x1b[1m+++ merged\x1b[0m\n\x1b[36m@@ -1 +1 @@\x1b[0m\n\
             \x1b[31m-a: 1\x1b[0m\n\x1b[32m+a: 2\x1b[0m\n b: 3\n"
        );
        let mut plain = String::new();
        paint(&mut plain, "-a: 1", false);
        assert_eq!(plain, "-a: 1");
    }
}
