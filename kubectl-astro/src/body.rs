//! An apply body serialized once: the bytes sent, and the hash of them that an inventory
//! proof records ([`crate::inventory::proof`]).

use astro_deploy::naming::sha256_hex;
use hyper::body::Bytes;
use kube::core::request::Error::SerializeBody;
use serde_json::Value;

use crate::error::CallError;

/// Hex characters of the body's hash kept in a proof.
const HASH_LEN: usize = 16;

/// A server-side apply body as it goes on the wire, with its proof hash.
#[derive(Debug, Clone)]
pub struct ApplyBody {
    bytes: Bytes,
    hash: String,
}

impl ApplyBody {
    /// `object` as compact JSON: the bytes kube sends for `Patch::Apply(object)`, which are
    /// also `object.to_string()`. Fails as the apply's call would when kube cannot serialize
    /// it (a `serde_json::Value` always serializes).
    pub fn new(object: &Value) -> Result<ApplyBody, CallError> {
        let bytes = serde_json::to_vec(object)
            .map_err(|e| crate::cluster::request_error(SerializeBody(e)))?;
        let mut hash = sha256_hex(&bytes);
        hash.truncate(HASH_LEN);
        Ok(ApplyBody {
            bytes: Bytes::from(bytes),
            hash,
        })
    }

    /// The bytes to send.
    pub fn bytes(&self) -> Bytes {
        self.bytes.clone()
    }

    /// The first 16 hex characters of the SHA-256 of the bytes: the `c:` part of a proof.
    pub fn hash(&self) -> &str {
        &self.hash
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use astro_deploy::naming::short_hash;
    use kube::core::params::{Patch, PatchParams};
    use serde_json::json;

    /// Bodies with what JSON text can differ in: escapes, unicode, numbers of every kind,
    /// nesting, empty containers, key order.
    fn bodies() -> Vec<Value> {
        vec![
            json!({}),
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"},
                "data": {"z": "1", "a": "quote \" backslash \\ newline \n tab \t nul \u{0} é ☃ 𝄞"}}),
            json!({"spec": {"replicas": 3, "neg": -7, "big": u64::MAX, "small": i64::MIN,
                "float": 1.5, "exp": 1e300, "tiny": 5e-324, "zero": 0.0, "negzero": -0.0,
                "list": [null, true, false, [], {}, [[1]], {"k": [{"v": "w"}]}]}}),
            json!({"b": 1, "a": 2, "c": {"y": null, "x": "</script>&<>"}}),
        ]
    }

    #[test]
    fn the_hash_is_the_proof_formula_of_the_object_text() {
        for object in bodies() {
            let body = ApplyBody::new(&object).expect("a Value serializes");
            assert_eq!(body.hash(), short_hash(&object.to_string(), 16), "{object}");
            assert_eq!(body.bytes(), object.to_string().into_bytes(), "{object}");
        }
    }

    #[test]
    fn the_bytes_are_what_kube_sends_for_an_apply() {
        for object in bodies() {
            let body = ApplyBody::new(&object).expect("a Value serializes");
            let kube = kube::core::Request::new("/api/v1/namespaces/n/configmaps")
                .patch("x", &PatchParams::apply("m"), &Patch::Apply(&object))
                .expect("a request");
            assert_eq!(body.bytes(), kube.body().as_slice(), "{object}");
        }
    }
}
