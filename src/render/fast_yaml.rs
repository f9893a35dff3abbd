//! A fast reader for the YAML our templates produce, with `serde-saphyr` as the authority.
//!
//! Rendered templates are a narrow subset of YAML: block mappings and sequences with plain
//! keys, plain words and integers from the template text, and one-line JSON values from the
//! JSON auto-escape formatter. Reading that subset directly is ~10× cheaper than the general
//! YAML parser (which dominated resolve + render in the profile, docs/performance.md).
//!
//! The contract: [`parse`] returns `None` for anything outside the subset, and the caller
//! then uses `serde-saphyr`; when it returns `Some`, the value is exactly what `serde-saphyr`
//! would have produced (plain scalars resolved the same way, duplicate keys, comments,
//! anchors, tags, block scalars, floats, tabs and other rarities all fall back). Errors
//! therefore always come from `serde-saphyr`, unchanged. Tests check the equivalence on
//! every golden object (`render::tests`) and on scalar and structure edge cases (below).

use serde_json::{Map, Number, Value};

/// Deepest nesting the fast path accepts (serde-saphyr's budget is 64).
const MAX_DEPTH: usize = 32;
/// Longest key the fast path accepts (YAML limits implicit keys to 1024 characters).
const MAX_KEY: usize = 256;

/// The mapping `text` holds, or `None` when `text` is outside the fast subset.
pub(crate) fn parse(text: &str) -> Option<Value> {
    if text.len() > 1 << 20 {
        return None;
    }
    // Rendered lines average 25-30 bytes: one allocation for almost every object.
    let mut lines = Vec::with_capacity(text.len() / 16 + 8);
    let bytes = text.as_bytes();
    let mut start = 0;
    while start <= bytes.len() {
        let end = bytes[start..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(bytes.len(), |i| start + i);
        let raw = &text[start..end];
        start = end + 1;
        let body = raw.trim_end_matches(' ');
        if body.is_empty() {
            continue;
        }
        let content = body.trim_start_matches(' ');
        let indent = body.len() - content.len();
        // Document markers and directives.
        if indent == 0
            && (content.starts_with("---")
                || content.starts_with("...")
                || content.starts_with('%'))
        {
            return None;
        }
        lines.push(Line {
            indent,
            text: content,
        });
    }
    if lines.first().is_none_or(|l| l.indent != 0) {
        return None;
    }
    let mut p = Parser { lines, pos: 0 };
    let value = p.mapping(0, 0)?;
    (p.pos == p.lines.len()).then_some(value)
}

struct Line<'a> {
    indent: usize,
    text: &'a str,
}

struct Parser<'a> {
    lines: Vec<Line<'a>>,
    pos: usize,
}

impl<'a> Parser<'a> {
    /// A block mapping whose keys sit at column `indent`.
    fn mapping(&mut self, indent: usize, depth: usize) -> Option<Value> {
        if depth > MAX_DEPTH {
            return None;
        }
        let mut map = Map::with_capacity(self.siblings(indent, false));
        while let Some(line) = self.lines.get(self.pos) {
            if line.indent < indent || line.indent == indent && is_seq_item(line.text) {
                break;
            }
            if line.indent > indent {
                return None;
            }
            let (key, rest) = split_key(line.text)?;
            self.pos += 1;
            let value = if rest.is_empty() {
                self.nested(indent, depth)?
            } else {
                let v = scalar(rest)?;
                if self.lines.get(self.pos).is_some_and(|l| l.indent > indent) {
                    return None; // a continuation line: multi-line scalar or error
                }
                v
            };
            if map.insert(key.to_string(), value).is_some() {
                return None; // duplicate key: serde-saphyr decides
            }
        }
        Some(Value::Object(map))
    }

    /// How many keys (or with `items`, sequence items) at column `indent` follow before the
    /// block that starts here ends: the capacity to allocate up front, instead of growing the
    /// map or vector (and rehashing the map) as it fills. Only a size hint: the readers
    /// still decide what the lines are.
    fn siblings(&self, indent: usize, items: bool) -> usize {
        self.lines[self.pos.min(self.lines.len())..]
            .iter()
            .take_while(|l| l.indent > indent || l.indent == indent && is_seq_item(l.text) == items)
            .filter(|l| l.indent == indent)
            .count()
    }

    /// The value of `key:` with nothing after the colon, the key at column `indent`.
    fn nested(&mut self, indent: usize, depth: usize) -> Option<Value> {
        match self.lines.get(self.pos) {
            Some(l) if l.indent > indent => {
                let at = l.indent;
                if is_seq_item(l.text) {
                    self.sequence(at, depth + 1)
                } else {
                    self.mapping(at, depth + 1)
                }
            }
            Some(l) if l.indent == indent && is_seq_item(l.text) => {
                self.sequence(indent, depth + 1)
            }
            _ => Some(Value::Null),
        }
    }

    /// A block sequence whose `-` sit at column `indent`.
    fn sequence(&mut self, indent: usize, depth: usize) -> Option<Value> {
        if depth > MAX_DEPTH {
            return None;
        }
        let mut items = Vec::with_capacity(self.siblings(indent, true));
        while let Some(line) = self.lines.get(self.pos) {
            if line.indent != indent || !is_seq_item(line.text) {
                if line.indent > indent {
                    return None;
                }
                break;
            }
            let after = line.text.get(2..)?;
            let content = after.trim_start_matches(' ');
            let column = indent + 2 + (after.len() - content.len());
            if content.is_empty() || content.starts_with('-') {
                return None; // nested or empty item: serde-saphyr decides
            }
            if split_key(content).is_some() {
                // `- key: …` opens a mapping at the key's column.
                self.lines[self.pos] = Line {
                    indent: column,
                    text: content,
                };
                items.push(self.mapping(column, depth + 1)?);
            } else {
                self.pos += 1;
                items.push(scalar(content)?);
                if self.lines.get(self.pos).is_some_and(|l| l.indent > indent) {
                    return None;
                }
            }
        }
        Some(Value::Array(items))
    }
}

fn is_seq_item(text: &str) -> bool {
    text == "-" || text.starts_with("- ")
}

/// `key: rest` or `key:` with a plain key; `None` when the line is not one.
fn split_key(text: &str) -> Option<(&str, &str)> {
    let colon = text.bytes().position(|b| b == b':')?;
    let key = &text[..colon];
    let rest = &text[colon + 1..];
    if !(rest.is_empty() || rest.starts_with(' ')) || !plain_word(key) || key.len() > MAX_KEY {
        return None;
    }
    Some((key, rest.trim_start_matches(' ')))
}

/// A plain word serde-saphyr reads as the same string: letters, digits and `._/-`,
/// starting with a letter or `/`, and none of the YAML 1.1 boolean/null/special spellings.
fn plain_word(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && (b[0].is_ascii_alphabetic() || b[0] == b'/')
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'/' | b'-'))
        && ![
            "y", "n", "yes", "no", "on", "off", "true", "false", "null", "inf", "infinity", "nan",
        ]
        .iter()
        .any(|w| s.eq_ignore_ascii_case(w))
}

/// A decimal integer serde-saphyr reads as the same number (no sign `+`, no leading zero,
/// no `_`, 18 digits at most so it fits in 64 bits).
fn integer(s: &str) -> Option<Number> {
    let digits = s.strip_prefix('-').unwrap_or(s);
    let ok = !digits.is_empty()
        && digits.len() <= 18
        && digits.bytes().all(|c| c.is_ascii_digit())
        && (digits == "0" && digits.len() == s.len() || !digits.starts_with('0'));
    if !ok {
        return None;
    }
    if s.starts_with('-') {
        s.parse::<i64>().ok().map(Number::from)
    } else {
        s.parse::<u64>().ok().map(Number::from)
    }
}

/// A one-line value: JSON from the formatter, or a plain word or integer from the template.
fn scalar(s: &str) -> Option<Value> {
    match s.as_bytes().first()? {
        b'"' | b'{' | b'[' => {
            let mut j = Json {
                s: s.as_bytes(),
                i: 0,
            };
            let v = j.value(0)?;
            j.ws();
            (j.i == j.s.len()).then_some(v)
        }
        _ => match s {
            "true" => Some(Value::Bool(true)),
            "false" => Some(Value::Bool(false)),
            "null" => Some(Value::Null),
            _ => match integer(s) {
                Some(n) => Some(Value::Number(n)),
                None => plain_word(s).then(|| Value::String(s.to_string())),
            },
        },
    }
}

/// Strict JSON on one line, as YAML flow reads it: strings, integers, `true`, `false`,
/// `null`, arrays and objects without duplicate keys; spaces between tokens.
struct Json<'a> {
    s: &'a [u8],
    i: usize,
}

impl Json<'_> {
    fn ws(&mut self) {
        while self.s.get(self.i) == Some(&b' ') {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> bool {
        self.ws();
        if self.s.get(self.i) == Some(&c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn value(&mut self, depth: usize) -> Option<Value> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.ws();
        match *self.s.get(self.i)? {
            b'"' => self.string().map(Value::String),
            b'{' => {
                self.i += 1;
                let mut map = Map::new();
                if self.eat(b'}') {
                    return Some(Value::Object(map));
                }
                loop {
                    self.ws();
                    let key = self.string()?;
                    if key.len() > MAX_KEY || !self.eat(b':') {
                        return None;
                    }
                    let v = self.value(depth + 1)?;
                    if map.insert(key, v).is_some() {
                        return None;
                    }
                    if self.eat(b'}') {
                        return Some(Value::Object(map));
                    }
                    if !self.eat(b',') {
                        return None;
                    }
                }
            }
            b'[' => {
                self.i += 1;
                let mut items = Vec::new();
                if self.eat(b']') {
                    return Some(Value::Array(items));
                }
                loop {
                    items.push(self.value(depth + 1)?);
                    if self.eat(b']') {
                        return Some(Value::Array(items));
                    }
                    if !self.eat(b',') {
                        return None;
                    }
                }
            }
            _ => {
                let start = self.i;
                while self
                    .s
                    .get(self.i)
                    .is_some_and(|c| c.is_ascii_alphanumeric() || b"-._/".contains(c))
                {
                    self.i += 1;
                }
                let word = std::str::from_utf8(&self.s[start..self.i]).ok()?;
                match word {
                    "true" => Some(Value::Bool(true)),
                    "false" => Some(Value::Bool(false)),
                    "null" => Some(Value::Null),
                    _ => match integer(word) {
                        Some(n) => Some(Value::Number(n)),
                        // A plain word in a flow sequence (`drop: [ALL]`).
                        None => plain_word(word).then(|| Value::String(word.to_string())),
                    },
                }
            }
        }
    }

    /// A double-quoted string with JSON escapes (no surrogates, no `\/`), every character
    /// printable in YAML.
    fn string(&mut self) -> Option<String> {
        if self.s.get(self.i) != Some(&b'"') {
            return None;
        }
        self.i += 1;
        let mut out = String::new();
        loop {
            let start = self.i;
            let mut ascii = true;
            while let Some(&c) = self.s.get(self.i) {
                if c == b'"' || c == b'\\' || c < 0x20 || c == 0x7f {
                    break;
                }
                ascii &= c < 0x80;
                self.i += 1;
            }
            let chunk = std::str::from_utf8(&self.s[start..self.i]).ok()?;
            // Printable ASCII needs no per-character check.
            if !ascii && !chunk.chars().all(yaml_printable) {
                return None;
            }
            out.push_str(chunk);
            match *self.s.get(self.i)? {
                b'"' => {
                    self.i += 1;
                    return Some(out);
                }
                b'\\' => {
                    let e = *self.s.get(self.i + 1)?;
                    self.i += 2;
                    out.push(match e {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let hex = std::str::from_utf8(self.s.get(self.i..self.i + 4)?).ok()?;
                            if !hex.bytes().all(|c| c.is_ascii_hexdigit()) {
                                return None;
                            }
                            self.i += 4;
                            char::from_u32(u32::from_str_radix(hex, 16).ok()?)?
                        }
                        _ => return None,
                    });
                }
                _ => return None,
            }
        }
    }
}

/// Characters YAML allows raw (the formatter escapes the others).
fn yaml_printable(c: char) -> bool {
    matches!(c, ' '..='~')
        || matches!(c, '\u{a0}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..)
            && !matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn saphyr(text: &str) -> Option<Value> {
        serde_saphyr::from_str(text).ok()
    }

    /// The fast path either declines or agrees with serde-saphyr.
    fn agrees(text: &str) -> bool {
        match parse(text) {
            None => true,
            Some(v) => saphyr(text) == Some(v),
        }
    }

    #[test]
    fn reads_the_template_subset() {
        let text = "apiVersion: v1\nkind: Service\nmetadata:\n  name: \"a\"\n  labels: {\"x\":\"y\",\"n\":1}\nspec:\n  ports:\n  - name: \"http\"\n    port: 8080\n    protocol: TCP\n  - name: \"b\"\n    port: -1\n  selector: {}\n  empty:\n  list: [\"a\", true, null]\n";
        let v = parse(text);
        assert!(v.is_some());
        assert_eq!(v, saphyr(text));
    }

    #[test]
    fn plain_scalars_resolve_as_serde_saphyr_does() {
        for s in [
            "TCP",
            "v1",
            "apps/v1",
            "a.b-c_d",
            "true",
            "false",
            "null",
            "True",
            "yes",
            "No",
            "on",
            "OFF",
            "y",
            "n",
            "0",
            "7",
            "-3",
            "007",
            "+1",
            "1e3",
            "1.5",
            ".inf",
            "inf",
            "NaN",
            "0x1f",
            "0o17",
            "1_000",
            "~",
            "Null",
            "-0",
            "123456789012345678",
            "1234567890123456789012",
            "a:b",
            "a b",
            "'q'",
            "\"q\"",
            "[1, 2]",
            "{\"a\": 1}",
            "[1.5]",
            "{\"a\":1,\"a\":2}",
            "\"\\u0085\"",
            "\"\\ud83d\\ude00\"",
            "\"\\/\"",
            "\"a # b\"",
            "[ALL, NET_BIND_SERVICE]",
            "[a.b, 1, yes, On]",
            "[a: b]",
            "/",
            "/tmp",
            "//x",
            "x # c",
            "&a x",
            "*a",
            "!!str 1",
            "|",
            ">",
            "\"\\t\"",
            "-",
        ] {
            let doc = format!("k: {s}\n");
            assert!(
                agrees(&doc),
                "{doc:?}: fast {:?} vs saphyr {:?}",
                parse(&doc),
                saphyr(&doc)
            );
            let doc = format!("k:\n- {s}\n");
            assert!(
                agrees(&doc),
                "{doc:?}: fast {:?} vs saphyr {:?}",
                parse(&doc),
                saphyr(&doc)
            );
        }
    }

    #[test]
    fn structure_edge_cases_agree_or_decline() {
        for doc in [
            "a: 1\na: 2\n",
            "a: x\n  y\n",
            "a:\n  - 1\n  - 2\nb: 3\n",
            "a:\n- 1\n-   c: 2\n    d: 3\n",
            "a:\n  b:\n    c: 1\n  d: 2\n",
            "a:\n- - 1\n",
            "a:\n-\n  b: 1\n",
            "  a: 1\n",
            "---\na: 1\n",
            "a: 1\n---\nb: 2\n",
            "a: 1 # c\n",
            "# c\na: 1\n",
            "a:\n\tb: 1\n",
            "a: [1,\n  2]\n",
            "a: \"x\ny\"\n",
            "a:\n  b: 1\n c: 2\n",
            "a:\n b: 1\n  c: 2\n",
            "a: {\"k\": [{\"x\": \"y\"}]}   \n",
            "",
            "- 1\n",
            "a: 1\n...\n",
        ] {
            assert!(
                agrees(doc),
                "{doc:?}: fast {:?} vs saphyr {:?}",
                parse(doc),
                saphyr(doc)
            );
        }
    }
}
