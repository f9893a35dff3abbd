//! Optional authentication — x509 client certificates, then bearer tokens, then anonymous, in
//! kube-apiserver's order (`k8s.io/apiserver/pkg/authentication/request/x509`,
//! `pkg/endpoints/filters/authentication.go`) — and an allow-list authorizer whose refusals read
//! as RBAC's (`pkg/endpoints/handlers/responsewriters/errors.go`).

use std::collections::BTreeMap;

/// One allow rule; `*` matches anything, an empty namespace list matches every namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowRule {
    /// User name or `*` (ignored when `group` is set).
    pub user: String,
    /// When set, the rule matches the members of this group (an RBAC `Group` subject), whoever
    /// they are: client-certificate O values, `system:authenticated`, `system:unauthenticated`.
    pub group: Option<String>,
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
            group: None,
            verbs: verbs.iter().map(|s| s.to_string()).collect(),
            resources: resources.iter().map(|s| s.to_string()).collect(),
            namespaces: Vec::new(),
        }
    }
    /// A rule allowing the members of `group` the given verbs on the given resources everywhere.
    pub fn for_group(group: &str, verbs: &[&str], resources: &[&str]) -> Self {
        Self {
            group: Some(group.into()),
            ..Self::new("", verbs, resources)
        }
    }
    /// Restricts the rule to namespaces.
    pub fn in_namespaces(mut self, ns: &[&str]) -> Self {
        self.namespaces = ns.iter().map(|s| s.to_string()).collect();
        self
    }
    fn allows(&self, user: &UserInfo, verb: &str, resource: &str, ns: &str) -> bool {
        let any = |l: &[String], v: &str| l.iter().any(|x| x == "*" || x == v);
        let subject = match &self.group {
            Some(g) => user.groups.iter().any(|ug| ug == g),
            None => self.user == "*" || self.user == user.name,
        };
        subject
            && any(&self.verbs, verb)
            && any(&self.resources, resource)
            && (self.namespaces.is_empty() || self.namespaces.iter().any(|n| n == ns))
    }
}

/// Authentication + authorization settings.
#[derive(Debug, Clone, Default)]
pub struct AuthConfig {
    /// Bearer token → user name. Empty = no token authentication: requests without a
    /// (valid) client certificate are `system:anonymous`... and allowed unless `allow` says no.
    pub tokens: BTreeMap<String, String>,
    /// Allow anonymous requests (as `system:anonymous`) when tokens are configured.
    pub allow_anonymous: bool,
    /// Allow-list; None = everything allowed.
    pub allow: Option<Vec<AllowRule>>,
}

/// Who a request is: the user name and groups the authorizer sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserInfo {
    /// User name (`system:anonymous` for anonymous requests).
    pub name: String,
    /// Groups: a client certificate's O values, then `system:authenticated`; anonymous
    /// requests are in `system:unauthenticated`.
    pub groups: Vec<String>,
}

impl UserInfo {
    /// An authenticated user: `groups` plus `system:authenticated`, as kube-apiserver adds it.
    pub fn authenticated(name: &str, groups: &[String]) -> Self {
        let mut groups = groups.to_vec();
        if !groups.iter().any(|g| g == "system:authenticated") {
            groups.push("system:authenticated".into());
        }
        Self {
            name: name.into(),
            groups,
        }
    }
    /// `system:anonymous` in `system:unauthenticated`.
    pub fn anonymous() -> Self {
        Self {
            name: "system:anonymous".into(),
            groups: vec!["system:unauthenticated".into()],
        }
    }
}

/// The client certificate of a connection, as the TLS layer found it (`crate::tls::Tls::identify`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ClientCert {
    /// No certificate (plain HTTP, none presented, or one without a CN).
    #[default]
    None,
    /// A certificate that chains to the server's CA: its CN and O values.
    Verified {
        /// The subject's common name: the user name.
        user: String,
        /// The subject's organizations: the groups.
        groups: Vec<String>,
    },
    /// A certificate that does not verify against the server's CA; the reason.
    Invalid(String),
}

/// Authentication outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authn {
    /// Authenticated (or anonymous) user.
    User(UserInfo),
    /// 401.
    Unauthorized,
}

impl AuthConfig {
    /// Resolves the user of a request from the connection's client certificate and the
    /// `Authorization` header, in kube-apiserver's order: a verified certificate wins (CN →
    /// user, O → groups); otherwise the bearer token; otherwise anonymous. As upstream (a union
    /// authenticator that collects errors, wrapped fail-on-error by the anonymous one), a
    /// certificate that does not verify is no 401 by itself — a valid token still
    /// authenticates — but it stops the request from becoming anonymous.
    pub fn authenticate(&self, cert: &ClientCert, header: Option<&str>) -> Authn {
        let cert_failed = match cert {
            ClientCert::Verified { user, groups } => {
                return Authn::User(UserInfo::authenticated(user, groups));
            }
            ClientCert::Invalid(_) => true,
            ClientCert::None => false,
        };
        let token = if self.tokens.is_empty() {
            // No token authenticator: the header is not looked at.
            None
        } else {
            header.and_then(|h| h.strip_prefix("Bearer "))
        };
        match token {
            Some(t) => match self.token_user(t) {
                Some(u) => Authn::User(u),
                None => Authn::Unauthorized,
            },
            None if cert_failed => Authn::Unauthorized,
            None if self.tokens.is_empty() || self.allow_anonymous => {
                Authn::User(UserInfo::anonymous())
            }
            None => Authn::Unauthorized,
        }
    }
    /// The user a bearer token authenticates, if the server knows it: the token's user, in
    /// `system:authenticated`, and — for a service account's user name
    /// `system:serviceaccount:NS:NAME` — in `system:serviceaccounts` and
    /// `system:serviceaccounts:NS`, as the service-account token authenticator puts it
    /// (`pkg/serviceaccount/util.go` `MakeGroupNames`). What a bearer token authenticates as,
    /// and what `POST /apis/authentication.k8s.io/v1/tokenreviews` answers for it.
    pub fn token_user(&self, token: &str) -> Option<UserInfo> {
        let name = self.tokens.get(token.trim())?;
        let groups: Vec<String> = match name.strip_prefix("system:serviceaccount:") {
            Some(rest) => match rest.split_once(':') {
                Some((ns, _)) => vec![
                    "system:serviceaccounts".into(),
                    format!("system:serviceaccounts:{ns}"),
                ],
                None => Vec::new(),
            },
            None => Vec::new(),
        };
        Some(UserInfo::authenticated(name, &groups))
    }
    /// Whether the user may do `verb` on `resource` in `ns`.
    pub fn authorize(&self, user: &UserInfo, verb: &str, resource: &str, ns: &str) -> bool {
        match &self.allow {
            None => true,
            Some(rules) => rules.iter().any(|r| r.allows(user, verb, resource, ns)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_tokens(allow_anonymous: bool) -> AuthConfig {
        AuthConfig {
            tokens: BTreeMap::from([("t".to_string(), "token-user".to_string())]),
            allow_anonymous,
            allow: None,
        }
    }

    fn verified(user: &str, groups: &[&str]) -> ClientCert {
        ClientCert::Verified {
            user: user.into(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
        }
    }

    fn name(a: Authn) -> String {
        match a {
            Authn::User(u) => u.name,
            Authn::Unauthorized => "401".into(),
        }
    }

    #[test]
    fn a_verified_certificate_comes_before_the_token() {
        let cfg = with_tokens(false);
        let cert = verified("alice", &["team-a"]);
        assert_eq!(
            cfg.authenticate(&cert, Some("Bearer t")),
            Authn::User(UserInfo {
                name: "alice".into(),
                groups: vec!["team-a".into(), "system:authenticated".into()]
            })
        );
        // Even a wrong token does not matter once the certificate authenticated.
        assert_eq!(name(cfg.authenticate(&cert, Some("Bearer wrong"))), "alice");
        // Without token authentication configured the certificate still names the user.
        assert_eq!(
            name(AuthConfig::default().authenticate(&cert, None)),
            "alice"
        );
    }

    #[test]
    fn an_untrusted_certificate_is_401_unless_a_token_authenticates() {
        let bad = ClientCert::Invalid("unknown issuer".into());
        for allow_anonymous in [false, true] {
            let cfg = with_tokens(allow_anonymous);
            assert_eq!(name(cfg.authenticate(&bad, None)), "401");
            assert_eq!(name(cfg.authenticate(&bad, Some("Bearer t"))), "token-user");
            assert_eq!(name(cfg.authenticate(&bad, Some("Bearer x"))), "401");
        }
        assert_eq!(name(AuthConfig::default().authenticate(&bad, None)), "401");
        // No certificate: tokens, then anonymous.
        let none = ClientCert::None;
        assert_eq!(name(with_tokens(false).authenticate(&none, None)), "401");
        assert_eq!(
            with_tokens(true).authenticate(&none, None),
            Authn::User(UserInfo::anonymous())
        );
        assert_eq!(
            name(AuthConfig::default().authenticate(&none, Some("Bearer x"))),
            "system:anonymous"
        );
    }

    #[test]
    fn a_service_account_token_is_in_the_service_account_groups() {
        let cfg = AuthConfig {
            tokens: BTreeMap::from([
                ("sa".to_string(), "system:serviceaccount:ci:bot".to_string()),
                ("u".to_string(), "alice".to_string()),
            ]),
            ..AuthConfig::default()
        };
        let want = |name: &str, groups: &[&str]| UserInfo {
            name: name.into(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
        };
        assert_eq!(
            cfg.authenticate(&ClientCert::None, Some("Bearer sa")),
            Authn::User(want(
                "system:serviceaccount:ci:bot",
                &[
                    "system:serviceaccounts",
                    "system:serviceaccounts:ci",
                    "system:authenticated"
                ]
            ))
        );
        assert_eq!(
            cfg.token_user("u"),
            Some(want("alice", &["system:authenticated"]))
        );
        assert_eq!(cfg.token_user("nobody"), None);
    }

    #[test]
    fn group_rules_match_members_only() {
        let cfg = AuthConfig {
            allow: Some(vec![
                AllowRule::for_group("system:masters", &["*"], &["*"]),
                AllowRule::new("alice", &["get"], &["configmaps"]),
            ]),
            ..AuthConfig::default()
        };
        let admin = UserInfo::authenticated("root", &["system:masters".into()]);
        let alice = UserInfo::authenticated("alice", &[]);
        assert!(cfg.authorize(&admin, "delete", "secrets", "x"));
        assert!(cfg.authorize(&alice, "get", "configmaps", "x"));
        assert!(!cfg.authorize(&alice, "delete", "configmaps", "x"));
        // A user named like the group is not in it.
        let impostor = UserInfo::authenticated("system:masters", &[]);
        assert!(!cfg.authorize(&impostor, "delete", "secrets", "x"));
        assert!(!cfg.authorize(&UserInfo::anonymous(), "get", "secrets", "x"));
    }
}
