//! Tables as kubectl prints them: upper-case headers, columns left-aligned and three spaces
//! apart, the last column not padded, `<none>` for an empty cell.

/// What kubectl prints for a value that is not set.
pub const NONE: &str = "<none>";

/// `headers` and `rows` as text, one line each, every line ending in a newline.
pub fn render(headers: &[&str], rows: &[Vec<String>]) -> String {
    let cell = |s: &str| {
        if s.is_empty() {
            NONE.len()
        } else {
            s.chars().count()
        }
    };
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell(c));
        }
    }
    let mut text = String::new();
    let mut line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut out = String::new();
        for (i, (c, w)) in cells.zip(&widths).enumerate() {
            let c = if c.is_empty() { NONE } else { c };
            if i + 1 == widths.len() {
                out.push_str(c);
            } else {
                out.push_str(&format!("{c:<w$}   "));
            }
        }
        text.push_str(out.trim_end());
        text.push('\n');
    };
    line(&mut headers.iter().copied());
    for row in rows {
        line(&mut row.iter().map(String::as_str));
    }
    text
}

/// `ready` → `Ready`.
pub fn capitalised(s: &str) -> String {
    let mut chars = s.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// The age of `created_at` (RFC 3339) at `now`, as kubectl prints it: `45s`, `5m30s`, `42m`,
/// `3h20m`, `20h`, `3d4h`, `45d`, `2y30d`, `9y`; `<unknown>` when it cannot be read.
pub fn age(created_at: &str, now: chrono::DateTime<chrono::Utc>) -> String {
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
    fn columns_align_and_empty_cells_say_none() {
        let rows = vec![
            vec!["weather-agent".to_string(), String::new(), "img:1".into()],
            vec!["a".to_string(), "1.0.0".into(), "img:2".into()],
        ];
        assert_eq!(
            render(&["NAME", "VERSION", "IMAGE"], &rows),
            "NAME            VERSION   IMAGE\n\
             weather-agent   <none>    img:1\n\
             a               1.0.0     img:2\n"
        );
    }

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
