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
}
