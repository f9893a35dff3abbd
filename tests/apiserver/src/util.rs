//! Small helpers: RFC 3339 timestamps, UUIDs, base64, a seeded PRNG and JSON path access.

use serde_json::{Map, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// The current time as RFC 3339, UTC, second precision (`2025-01-01T00:00:00Z`).
pub fn now_rfc3339() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    format_rfc3339(secs)
}

/// Formats seconds since the Unix epoch as RFC 3339 UTC.
pub fn format_rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    let Ok(year @ 0..=9999) = u64::try_from(y) else {
        return format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
            rem / 3600,
            (rem % 3600) / 60,
            rem % 60
        );
    };
    // Written digit by digit: this runs on every write.
    let mut out = String::with_capacity(20);
    push_digits(&mut out, year, 4);
    for (sep, n) in [
        ('-', u64::from(m)),
        ('-', u64::from(d)),
        ('T', rem / 3600),
        (':', (rem % 3600) / 60),
        (':', rem % 60),
    ] {
        out.push(sep);
        push_digits(&mut out, n, 2);
    }
    out.push('Z');
    out
}

/// Appends the last `width` decimal digits of `n`, zero-padded.
fn push_digits(out: &mut String, n: u64, width: u32) {
    for p in (0..width).rev() {
        out.push(char::from(b'0' + ((n / 10u64.pow(p)) % 10) as u8));
    }
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = (z - era * 146_097) as u64;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe as i64 + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
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
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A random RFC 4122 version 4 UUID.
pub fn new_uuid() -> String {
    let a = random_u64();
    let b = random_u64();
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&a.to_be_bytes());
    bytes[8..].copy_from_slice(&b.to_be_bytes());
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    format_uuid(&bytes)
}

/// The 8-4-4-4-12 lowercase hex form of 16 bytes.
fn format_uuid(bytes: &[u8; 16]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(36);
    for (i, b) in bytes.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out.push('-');
        }
        out.push(HEX[usize::from(b >> 4)] as char);
        out.push(HEX[usize::from(b & 0xf)] as char);
    }
    out
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
    const T: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        out.push(T[(n >> 18) as usize & 63] as char);
        out.push(T[(n >> 12) as usize & 63] as char);
        out.push(if chunk.len() > 1 {
            T[(n >> 6) as usize & 63] as char
        } else {
            '='
        });
        out.push(if chunk.len() > 2 {
            T[n as usize & 63] as char
        } else {
            '='
        });
    }
    out
}

/// Percent-decodes a query component (`+` is a space).
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(v) => {
                        out.push(v);
                        i += 3;
                    }
                    Err(_) => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
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

    /// The digit-by-digit form equals the format! one, across centuries and day boundaries.
    #[test]
    fn rfc3339_matches_format() {
        let reference = |secs: u64| {
            let (y, m, d) = civil_from_days((secs / 86_400) as i64);
            let rem = secs % 86_400;
            format!(
                "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
                rem / 3600,
                (rem % 3600) / 60,
                rem % 60
            )
        };
        let mut secs = 0u64;
        while secs < 400_000_000_000 {
            assert_eq!(format_rfc3339(secs), reference(secs));
            assert_eq!(format_rfc3339(secs + 86_399), reference(secs + 86_399));
            secs = secs * 3 + 7_777;
        }
        for secs in [u64::MAX, 253_402_300_799, 253_402_300_800, 1_700_000_000] {
            assert_eq!(format_rfc3339(secs), reference(secs));
        }
    }

    #[test]
    fn rfc3339_epoch_and_known_date() {
        assert_eq!(format_rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_rfc3339(1_735_689_600), "2025-01-01T00:00:00Z");
    }

    #[test]
    fn base64_matches_reference() {
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
        let bytes: [u8; 16] = std::array::from_fn(|i| (i as u8).wrapping_mul(17).wrapping_add(1));
        assert_eq!(format_uuid(&bytes), "01122334-4556-6778-899a-abbccddeef00");
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("metadata.name%3Dweb"), "metadata.name=web");
        assert_eq!(percent_decode("a%2Cb+c"), "a,b c");
    }
}
