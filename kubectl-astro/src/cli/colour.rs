//! Colour of unified diffs, as `git diff` and `kubectl diff` show them, and when to use it:
//! `diff`'s text on stdout and `deploy --diff` on stderr share both.

use std::ffi::OsStr;

use super::args::ColorChoice;

/// Whether to colour output going to a stream that is (or is not) a `terminal`, as `choice`
/// and the environment's `NO_COLOR` say (see [`enabled`]).
pub fn wanted(choice: ColorChoice, terminal: bool) -> bool {
    enabled(choice, terminal, std::env::var_os("NO_COLOR").as_deref())
}

/// Whether to colour: `always` and `never` say it; `auto` colours only a terminal, and only
/// while `NO_COLOR` is unset or empty (no-color.org). An explicit `--color always` is the
/// user's word for this one run and wins over `NO_COLOR`, as no-color.org asks of
/// command-line flags.
pub fn enabled(choice: ColorChoice, terminal: bool, no_color: Option<&OsStr>) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => terminal && no_color.is_none_or(OsStr::is_empty),
    }
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
        assert!(enabled(ColorChoice::Auto, true, None));
        assert!(
            enabled(ColorChoice::Auto, true, empty),
            "empty NO_COLOR is unset"
        );
        assert!(!enabled(ColorChoice::Auto, true, set));
        assert!(!enabled(ColorChoice::Auto, false, None));
        assert!(enabled(ColorChoice::Always, false, set), "the flag wins");
        assert!(!enabled(ColorChoice::Never, true, None));
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
