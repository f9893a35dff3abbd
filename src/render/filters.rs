//! The template filter we add to minijinja's: `b64values`.

use std::collections::BTreeMap;

use base64::Engine;
use minijinja::value::Value;

/// `b64values`: a mapping with every value base64-encoded (Secret `data`).
pub(crate) fn b64values(map: Value) -> Result<Value, minijinja::Error> {
    let mut out = BTreeMap::new();
    let iter = map.try_iter()?;
    for key in iter {
        let v = map.get_item(&key)?;
        let s = v.as_str().ok_or_else(|| {
            minijinja::Error::new(
                minijinja::ErrorKind::InvalidOperation,
                "b64values: value is not a string",
            )
        })?;
        out.insert(
            key.to_string(),
            base64::engine::general_purpose::STANDARD.encode(s.as_bytes()),
        );
    }
    Ok(Value::from_serialize(&out))
}
