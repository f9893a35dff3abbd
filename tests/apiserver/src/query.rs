//! Query strings as kubectl and kube-rs send them (empty segments like `?&` allowed, 10.6).

use crate::util::percent_decode;

/// Parsed query parameters, in order.
#[derive(Debug, Clone, Default)]
pub struct Query(pub Vec<(String, String)>);

impl Query {
    /// Parses a raw query string.
    pub fn parse(raw: Option<&str>) -> Self {
        let Some(raw) = raw else {
            return Self::default();
        };
        Self(
            raw.split('&')
                .filter(|s| !s.is_empty())
                .map(|kv| match kv.split_once('=') {
                    Some((k, v)) => (percent_decode(k), percent_decode(v)),
                    None => (percent_decode(kv), String::new()),
                })
                .collect(),
        )
    }

    /// First value of a parameter.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// All values of a parameter.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// A boolean parameter (`true`/`1`).
    pub fn flag(&self, name: &str) -> bool {
        matches!(self.get(name), Some("true" | "1"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// kube-rs sends `?&dryRun=All&...` and empty queries.
    /// Upstream: kube-rs `kube-core/src/request.rs`.
    #[test]
    fn kube_rs_query_with_leading_ampersand() {
        let q = Query::parse(Some(
            "&dryRun=All&force=true&fieldManager=x&fieldValidation=Strict",
        ));
        assert_eq!(q.get("dryRun"), Some("All"));
        assert!(q.flag("force"));
        assert_eq!(q.get("fieldManager"), Some("x"));
        assert!(Query::parse(Some("")).0.is_empty());
    }
}
