//! Optional bearer-token authentication and an allow-list authorizer (B79, B80).

use std::collections::BTreeMap;

/// One allow rule; `*` matches anything, an empty namespace list matches every namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowRule {
    /// User name or `*`.
    pub user: String,
    /// Verbs (`get`, `list`, `create`, `update`, `patch`, `delete`, ...) or `*`.
    pub verbs: Vec<String>,
    /// Resources (plural, `deployments/status` for subresources) or `*`.
    pub resources: Vec<String>,
    /// Namespaces; empty = all (and cluster scope).
    pub namespaces: Vec<String>,
}

impl AllowRule {
    /// A rule allowing `user` the given verbs on the given resources everywhere.
    pub fn new(user: &str, verbs: &[&str], resources: &[&str]) -> Self {
        Self {
            user: user.into(),
            verbs: verbs.iter().map(|s| s.to_string()).collect(),
            resources: resources.iter().map(|s| s.to_string()).collect(),
            namespaces: Vec::new(),
        }
    }
    /// Restricts the rule to namespaces.
    pub fn in_namespaces(mut self, ns: &[&str]) -> Self {
        self.namespaces = ns.iter().map(|s| s.to_string()).collect();
        self
    }
    fn allows(&self, user: &str, verb: &str, resource: &str, ns: &str) -> bool {
        let any = |l: &[String], v: &str| l.iter().any(|x| x == "*" || x == v);
        (self.user == "*" || self.user == user)
            && any(&self.verbs, verb)
            && any(&self.resources, resource)
            && (self.namespaces.is_empty() || self.namespaces.iter().any(|n| n == ns))
    }
}

/// Authentication + authorization settings.
#[derive(Debug, Clone, Default)]
pub struct AuthConfig {
    /// Bearer token → user name. Empty = no authentication (everyone is `system:anonymous`... and allowed).
    pub tokens: BTreeMap<String, String>,
    /// Allow anonymous requests (as `system:anonymous`) when tokens are configured.
    pub allow_anonymous: bool,
    /// Allow-list; None = everything allowed.
    pub allow: Option<Vec<AllowRule>>,
}

/// Authentication outcome.
pub enum Authn {
    /// Authenticated (or anonymous) user.
    User(String),
    /// 401.
    Unauthorized,
}

impl AuthConfig {
    /// Resolves the user from an `Authorization` header.
    pub fn authenticate(&self, header: Option<&str>) -> Authn {
        if self.tokens.is_empty() {
            return Authn::User("system:anonymous".into());
        }
        match header.and_then(|h| h.strip_prefix("Bearer ")) {
            Some(t) => match self.tokens.get(t.trim()) {
                Some(u) => Authn::User(u.clone()),
                None => Authn::Unauthorized,
            },
            None if self.allow_anonymous => Authn::User("system:anonymous".into()),
            None => Authn::Unauthorized,
        }
    }
    /// Whether the user may do `verb` on `resource` in `ns`.
    pub fn authorize(&self, user: &str, verb: &str, resource: &str, ns: &str) -> bool {
        match &self.allow {
            None => true,
            Some(rules) => rules.iter().any(|r| r.allows(user, verb, resource, ns)),
        }
    }
}
