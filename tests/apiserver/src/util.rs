//! Small helpers: RFC 3339 timestamps, UUIDs, base64, percent-decoding, a seeded PRNG and JSON
//! path access.

use serde_json::{Map, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// The current time as RFC 3339, UTC, second precision (`2025-01-01T00:00:00Z`), as
/// `metav1.Time` serialises.
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Formats seconds since the Unix epoch as RFC 3339 UTC; `None` beyond chrono's range.
pub fn format_rfc3339(secs: i64) -> Option<String> {
    chrono::DateTime::from_timestamp(secs, 0)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

/// Parses an RFC 3339 timestamp into seconds since the Unix epoch.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.timestamp())
}

static SEED: AtomicU64 = AtomicU64::new(0);

/// A process-wide random 64-bit number (splitmix64 over time and a counter).
pub fn random_u64() -> u64 {
    let mut s = SEED.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed);
    if s == 0 {
        let t = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1);
        SEED.store(t, Ordering::Relaxed);
        s = t;
    }
    splitmix(s)
}

/// One step of splitmix64.
pub fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A random RFC 4122 version 4 UUID, lowercase hyphenated.
pub fn new_uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A random lowercase alphanumeric suffix of `n` characters (as used for generateName).
pub fn random_suffix(n: usize) -> String {
    const ALPHA: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    (0..n)
        .map(|_| ALPHA[(random_u64() % ALPHA.len() as u64) as usize] as char)
        .collect()
}

/// Standard base64 encoding with padding.
pub fn base64_encode(data: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(data)
}

/// Percent-decodes a query component (`+` is a space), as Go's `url.QueryUnescape` except
/// that a malformed escape is kept as text instead of failing the request.
pub fn percent_decode(s: &str) -> String {
    let spaced;
    let s = if s.contains('+') {
        spaced = s.replace('+', " ");
        &spaced
    } else {
        s
    };
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// Locks a mutex, recovering the data if a panicking request poisoned it.
pub fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Reads a nested value by field names.
pub fn get_path<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    let mut cur = v;
    for p in path {
        cur = cur.get(*p)?;
    }
    Some(cur)
}

/// Reads a nested string by field names.
pub fn get_str<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    get_path(v, path).and_then(Value::as_str)
}

/// `Value::pointer` and `Value::pointer_mut` with the same answers (RFC 6901: `~1` is `/`, `~0`
/// is `~`, list indexes without a sign or leading zeros), without serde_json's two `String`s
/// per token.
pub trait Pointer {
    /// Like `Value::pointer`.
    fn ptr(&self, pointer: &str) -> Option<&Value>;
    /// Like `Value::pointer_mut`.
    fn ptr_mut(&mut self, pointer: &str) -> Option<&mut Value>;
}

/// One unescaped pointer token (borrowed unless it has an escape).
fn token(t: &str) -> std::borrow::Cow<'_, str> {
    if t.contains('~') {
        std::borrow::Cow::Owned(t.replace("~1", "/").replace("~0", "~"))
    } else {
        std::borrow::Cow::Borrowed(t)
    }
}

/// A list index as serde_json's pointer reads it.
fn index(t: &str) -> Option<usize> {
    if t.starts_with('+') || (t.starts_with('0') && t.len() != 1) {
        return None;
    }
    t.parse().ok()
}

impl Pointer for Value {
    fn ptr(&self, pointer: &str) -> Option<&Value> {
        if pointer.is_empty() {
            return Some(self);
        }
        let rest = pointer.strip_prefix('/')?;
        rest.split('/').try_fold(self, |target, t| match target {
            Value::Object(map) => map.get(token(t).as_ref()),
            Value::Array(list) => index(&token(t)).and_then(|i| list.get(i)),
            _ => None,
        })
    }

    fn ptr_mut(&mut self, pointer: &str) -> Option<&mut Value> {
        if pointer.is_empty() {
            return Some(self);
        }
        let rest = pointer.strip_prefix('/')?;
        rest.split('/').try_fold(self, |target, t| match target {
            Value::Object(map) => map.get_mut(token(t).as_ref()),
            Value::Array(list) => index(&token(t)).and_then(move |i| list.get_mut(i)),
            _ => None,
        })
    }
}

/// Returns the object at `path`, creating empty objects on the way (replacing non-objects).
pub fn ensure_obj<'a>(v: &'a mut Value, path: &[&str]) -> &'a mut Map<String, Value> {
    let mut cur = v;
    for p in path {
        if !cur.is_object() {
            *cur = Value::Object(Map::new());
        }
        let Value::Object(m) = cur else {
            unreachable!("just made an object")
        };
        cur = m
            .entry((*p).to_string())
            .or_insert_with(|| Value::Object(Map::new()));
    }
    if !cur.is_object() {
        *cur = Value::Object(Map::new());
    }
    match cur {
        Value::Object(m) => m,
        _ => unreachable!("just made an object"),
    }
}

/// Sets `key` in `m` only if absent or null.
pub fn default_field(m: &mut Map<String, Value>, key: &str, v: Value) {
    match m.get(key) {
        None | Some(Value::Null) => {
            m.insert(key.to_string(), v);
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_epoch_and_known_date() {
        assert_eq!(format_rfc3339(0).as_deref(), Some("1970-01-01T00:00:00Z"));
        assert_eq!(
            format_rfc3339(1_735_689_600).as_deref(),
            Some("2025-01-01T00:00:00Z")
        );
        assert_eq!(format_rfc3339(i64::MAX), None);
        assert_eq!(parse_rfc3339("2025-01-01T00:00:00Z"), Some(1_735_689_600));
        assert_eq!(
            parse_rfc3339("2025-01-01T01:00:00+01:00"),
            Some(1_735_689_600)
        );
        assert_eq!(parse_rfc3339("yesterday"), None);
        let now = now_rfc3339();
        assert_eq!(now.len(), 20, "{now}");
        assert!(now.ends_with('Z'), "{now}");
    }

    #[test]
    fn base64_standard_with_padding() {
        assert_eq!(base64_encode(b"hello"), "aGVsbG8=");
        assert_eq!(base64_encode(b"ab"), "YWI=");
        assert_eq!(base64_encode(b"abc"), "YWJj");
    }

    /// `ptr`/`ptr_mut` answer as serde_json's `pointer`/`pointer_mut` on every kind of token.
    #[test]
    fn pointer_matches_serde_json() {
        let doc = serde_json::json!({"a": {"b/c": [10, {"d~e": 1, "0": "zero", "": "empty"}], "01": 2},
                          "": {"": 3}, "l": [[4, 5]], "n": null});
        let pointers = [
            "",
            "/",
            "//",
            "/a",
            "/a/b~1c",
            "/a/b~1c/0",
            "/a/b~1c/1/d~0e",
            "/a/b~1c/1/0",
            "/a/b~1c/1/",
            "/a/b~1c/01",
            "/a/b~1c/+1",
            "/a/b~1c/-1",
            "/a/b~1c/2",
            "/a/01",
            "/a/1",
            "a",
            "/l/0/1",
            "/l/00",
            "/n",
            "/n/x",
            "/a/b~c",
            "/a/b~1c/1/d~01e",
            "/x/y",
            "/a/b~1c/18446744073709551616",
        ];
        for p in pointers {
            assert_eq!(doc.ptr(p), doc.pointer(p), "{p}");
            let (mut d1, mut d2) = (doc.clone(), doc.clone());
            assert_eq!(d1.ptr_mut(p).cloned(), d2.pointer_mut(p).cloned(), "{p}");
        }
    }

    #[test]
    fn uuid_shape() {
        let u = new_uuid();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert_eq!(u, u.to_lowercase());
        assert_ne!(u, new_uuid());
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("metadata.name%3Dweb"), "metadata.name=web");
        assert_eq!(percent_decode("a%2Cb+c"), "a,b c");
        assert_eq!(percent_decode("a%2Bb"), "a+b");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
    }
}
