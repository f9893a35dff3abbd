//! Interpolated values handed from the template formatter to the YAML reader as values, not
//! as JSON text that the reader would have to parse again.
//!
//! While a render captures, the formatter converts each `{{ value }}` to a
//! `serde_json::Value`, stores it here and writes a placeholder (`\u{1}` index `\u{1}`)
//! instead of its JSON. The fast YAML reader puts the stored value where it meets the
//! placeholder. The value is the one the reader would have read from the JSON text: only
//! strings, integers, booleans, null and sequences or string-keyed mappings of them are
//! captured; anything else is printed as JSON as usual.
//!
//! Only templates whose output reaches the reader unchanged may capture: a filter that looked
//! at a placeholder (its length, its case) would see other text than the JSON. The embedded
//! templates only pass macro output through `indent`, which leaves one-line placeholders
//! as they are; [`Templates`](super::Templates) captures only for those.

use std::cell::RefCell;

use serde_json::{Map, Number, Value};

/// The placeholder's delimiter: a control character that neither the formatter's JSON nor
/// any YAML the fast reader accepts can contain.
pub(crate) const MARK: char = '\u{1}';

/// Deepest nesting captured (the fast reader's own limit).
const MAX_DEPTH: usize = 32;
/// Longest mapping key captured (the fast reader's own limit).
const MAX_KEY: usize = 256;

thread_local! {
    /// The values of the render that is capturing on this thread, if one is.
    static TABLE: RefCell<Option<Vec<Option<Value>>>> = const { RefCell::new(None) };
}

/// Captures the formatter's values on this thread until [`Capture::finish`] or drop.
pub(crate) struct Capture(());

impl Capture {
    /// Starts capturing.
    pub(crate) fn start() -> Capture {
        TABLE.with(|t| *t.borrow_mut() = Some(Vec::with_capacity(64)));
        Capture(())
    }

    /// Stops capturing and returns the values, by placeholder index.
    pub(crate) fn finish(self) -> Vec<Option<Value>> {
        TABLE.with(|t| t.borrow_mut().take()).unwrap_or_default()
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        TABLE.with(|t| t.borrow_mut().take());
    }
}

/// Stores `value` and writes its placeholder to `out`, when this thread is capturing and the
/// value converts exactly. `Ok(false)`: nothing written, print it as JSON.
pub(crate) fn store(
    out: &mut minijinja::Output<'_>,
    value: &minijinja::Value,
) -> Result<bool, std::fmt::Error> {
    let index = TABLE.with(|t| {
        let mut table = t.borrow_mut();
        let table = table.as_mut()?;
        let json = to_json(value, 0)?;
        table.push(Some(json));
        Some(table.len() - 1)
    });
    let Some(index) = index else {
        return Ok(false);
    };
    let mut buf = [0u8; 24];
    out.write_str(placeholder_text(index, &mut buf))?;
    Ok(true)
}

/// The placeholder of `index`: its decimal digits between two marks, written into `buf`
/// without the formatting machinery (this runs for every interpolated value).
fn placeholder_text(index: usize, buf: &mut [u8; 24]) -> &str {
    let mut at = buf.len() - 1;
    buf[at] = MARK as u8;
    let mut rest = index;
    loop {
        at -= 1;
        buf[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    at -= 1;
    buf[at] = MARK as u8;
    // Only ASCII digits and the ASCII mark were written.
    std::str::from_utf8(&buf[at..]).unwrap_or_default()
}

/// The placeholder at the start of `s`: its index and the length of its text.
pub(crate) fn placeholder(s: &[u8]) -> Option<(usize, usize)> {
    let rest = s.strip_prefix(&[MARK as u8])?;
    let digits = rest.iter().take_while(|c| c.is_ascii_digit()).count();
    if digits == 0 || digits > 9 || rest.get(digits) != Some(&(MARK as u8)) {
        return None;
    }
    let index = rest[..digits]
        .iter()
        .fold(0usize, |n, d| n * 10 + usize::from(d - b'0'));
    Some((index, digits + 2))
}

/// `value` as the JSON reader would read the formatter's text of it, or `None` for values
/// it would not read (floats, bytes, non-string keys, deep or odd values): those are printed.
fn to_json(value: &minijinja::Value, depth: usize) -> Option<Value> {
    use minijinja::value::ValueKind;
    if depth > MAX_DEPTH {
        return None;
    }
    Some(match value.kind() {
        ValueKind::None => Value::Null,
        ValueKind::Bool => Value::Bool(value.is_true()),
        ValueKind::String => Value::String(value.as_str()?.to_string()),
        ValueKind::Number if value.is_integer() => Value::Number(integer(value)?),
        ValueKind::Seq => {
            let obj = value.as_object()?;
            let mut items = Vec::with_capacity(obj.enumerator_len().unwrap_or(0));
            for item in obj.try_iter()? {
                items.push(to_json(&item, depth + 1)?);
            }
            Value::Array(items)
        }
        ValueKind::Map => {
            let obj = value.as_object()?;
            let mut map = Map::with_capacity(obj.enumerator_len().unwrap_or(0));
            for (key, item) in obj.try_iter_pairs()? {
                let key = key.as_str().filter(|k| k.len() <= MAX_KEY)?;
                map.insert(key.to_string(), to_json(&item, depth + 1)?);
            }
            Value::Object(map)
        }
        _ => return None,
    })
}

/// An integer the reader reads back as the same number (at most 18 digits).
fn integer(value: &minijinja::Value) -> Option<Number> {
    const LIMIT: u64 = 999_999_999_999_999_999;
    if let Some(i) = value.as_i64() {
        return (i.unsigned_abs() <= LIMIT).then(|| Number::from(i));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_read_back_with_their_length() {
        assert_eq!(placeholder(b"\x0112\x01 rest"), Some((12, 4)));
        assert_eq!(placeholder(b"\x010\x01"), Some((0, 3)));
        assert_eq!(placeholder(b"\x01\x01"), None);
        assert_eq!(placeholder(b"\x0112"), None);
        assert_eq!(placeholder(b"12\x01"), None);
        assert_eq!(placeholder(b"\x011234567890\x01"), None);
        let mut buf = [0; 24];
        for index in [0, 7, 9, 10, 99, 100, 4711, 123_456_789] {
            let text = placeholder_text(index, &mut buf).to_string();
            assert_eq!(text, format!("{MARK}{index}{MARK}"));
            assert_eq!(placeholder(text.as_bytes()), Some((index, text.len())));
        }
        let text = placeholder_text(usize::MAX, &mut buf);
        assert_eq!(text, format!("{MARK}{}{MARK}", usize::MAX));
    }

    #[test]
    fn converts_what_the_reader_would_read_and_declines_the_rest() {
        use minijinja::Value as V;
        let j = |v: V| to_json(&v, 0);
        assert_eq!(j(V::from("a\u{1}b")), Some(Value::from("a\u{1}b")));
        assert_eq!(j(V::from(-7)), Some(Value::from(-7)));
        assert_eq!(j(V::from(true)), Some(Value::Bool(true)));
        assert_eq!(j(V::from(())), Some(Value::Null));
        assert_eq!(j(V::from(1.5)), None);
        assert_eq!(j(V::from(2.0)), None);
        assert_eq!(j(V::from(u64::MAX)), None);
        assert_eq!(j(V::from(1_000_000_000_000_000_000_i64)), None);
        assert_eq!(
            j(V::from_serialize(vec![1, 2])),
            Some(serde_json::json!([1, 2]))
        );
        assert_eq!(
            j(V::from_serialize(
                serde_json::json!({"b": {"c": ["d"]}, "a": null})
            )),
            Some(serde_json::json!({"b": {"c": ["d"]}, "a": null}))
        );
        let int_keys: std::collections::BTreeMap<i32, i32> = [(1, 2)].into();
        assert_eq!(j(V::from_serialize(int_keys)), None);
        assert_eq!(
            j(V::from_serialize("x".repeat(300))),
            Some(Value::from("x".repeat(300)))
        );
        let long_key: std::collections::BTreeMap<String, i32> = [("k".repeat(300), 1)].into();
        assert_eq!(j(V::from_serialize(long_key)), None);
        assert_eq!(j(V::from_bytes(vec![1])), None);
        let mut deep = serde_json::json!(1);
        for _ in 0..40 {
            deep = serde_json::json!([deep]);
        }
        assert_eq!(j(V::from_serialize(deep)), None);
    }

    #[test]
    fn stores_only_while_capturing() {
        let env = minijinja::Environment::new();
        let mut env = env;
        env.set_formatter(|out, _state, value| {
            if !store(out, value)? {
                write!(out, "<{value}>")?;
            }
            Ok(())
        });
        let render = |env: &minijinja::Environment| {
            env.render_str(
                "{{ a }} {{ b }} {{ c }}",
                minijinja::context! {a => "x", b => 1.5, c => 3},
            )
            .unwrap_or_default()
        };
        assert_eq!(render(&env), "<x> <1.5> <3>");
        let capture = Capture::start();
        let text = render(&env);
        let table = capture.finish();
        assert_eq!(text, "\u{1}0\u{1} <1.5> \u{1}1\u{1}");
        assert_eq!(table, vec![Some(Value::from("x")), Some(Value::from(3))]);
        assert_eq!(render(&env), "<x> <1.5> <3>");
        drop(Capture::start());
        assert_eq!(render(&env), "<x> <1.5> <3>");
    }
}
