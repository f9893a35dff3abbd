//! Who may call the Deploy API: bearer tokens from the tokens file, each known only by the
//! SHA-256 digest of its value, with a role per account.
//!
//! A presented token is hashed and its digest compared with every known digest in constant
//! time. No token value is ever stored, logged or echoed: errors name the file, the field
//! and the token's `name`.
//!
//! With `--token-review`, a token the file does not know may still be a Kubernetes identity's
//! (see [`super::review`]); the file's `kubernetes` section gives the users and groups the
//! cluster authenticates their roles ([`Tokens::kubernetes_caller`]).
//!
//! [`TokenFile`] reads the file again when its content changes (a mounted Secret is updated
//! by swapping a symlink, which only a read of the path sees), keeping the tokens it had when
//! the new content does not load.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use astro_deploy::input::{MAX_DOCUMENT_BYTES, parse_document};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::cli::exit::Failure;
use crate::cli::output::err_line;

/// What a token may do in an account; each role may do what the ones before it may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// `POST /api/v1/deploy/validate` and the `GET` routes: deployments, an agent's
    /// deployment and its history.
    Viewer,
    /// Also `POST /api/v1/deploy` and `POST /api/v1/undeploy`.
    Deployer,
    /// Everything.
    Admin,
}

/// The tokens file as written.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TokensFile {
    #[serde(default)]
    tokens: Vec<TokenEntry>,
    /// Roles of Kubernetes identities (used with `--token-review`).
    #[serde(default)]
    kubernetes: Vec<KubernetesEntry>,
}

/// One entry of the tokens file's `kubernetes` section: a user or a group the cluster
/// authenticates, and its role per account.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KubernetesEntry {
    /// A user name as TokenReview answers it (`system:serviceaccount:NS:NAME` for a
    /// ServiceAccount).
    #[serde(default)]
    user: Option<String>,
    /// A group the user is in (`system:serviceaccounts:NS`, an OIDC group, …).
    #[serde(default)]
    group: Option<String>,
    /// Role per account; `*` stands for every account.
    accounts: BTreeMap<String, Role>,
}

/// Whom a `kubernetes` entry names.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Subject {
    User(String),
    Group(String),
}

/// One entry of the tokens file.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenEntry {
    /// Who holds the token (logged; never the token itself).
    name: String,
    /// Hex SHA-256 of the token's value.
    sha256: String,
    /// Role per account; `*` stands for every account.
    accounts: BTreeMap<String, Role>,
}

/// The account key standing for every account.
const EVERY_ACCOUNT: &str = "*";

/// An authenticated caller: its name and its roles.
#[derive(Debug)]
pub struct Caller {
    /// The token's `name` in the tokens file, or `kubernetes:USER` for a Kubernetes identity.
    pub name: String,
    /// The `accounts` of each entry that grants the caller roles: one for a token, any number
    /// for a Kubernetes identity (its user's entry and its groups').
    grants: Vec<BTreeMap<String, Role>>,
}

impl Caller {
    /// The caller's role in `account`: in each grant, the account's own entry, else the `*`
    /// entry; the highest of the grants'.
    pub fn role(&self, account: &str) -> Option<Role> {
        self.grants
            .iter()
            .filter_map(|g| g.get(account).or_else(|| g.get(EVERY_ACCOUNT)).copied())
            .max()
    }

    /// Whether the caller holds at least `needed` in `account`.
    pub fn may(&self, account: &str, needed: Role) -> bool {
        self.role(account).is_some_and(|r| r >= needed)
    }
}

/// Why a request was not authenticated (401).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unauthenticated {
    /// No `Authorization` header.
    Missing,
    /// An `Authorization` header that is not `Bearer <token>`.
    Malformed,
    /// A token that the tokens file does not know.
    Unknown,
}

impl Unauthenticated {
    /// The details of the 401 answer (never the token).
    pub fn details(self) -> &'static str {
        match self {
            Unauthenticated::Missing => "missing Authorization header: send `Bearer <token>`",
            Unauthenticated::Malformed => {
                "malformed Authorization header: expected `Bearer <token>`"
            }
            Unauthenticated::Unknown => "unknown token",
        }
    }
}

/// One known token.
#[derive(Debug)]
struct Known {
    digest: [u8; 32],
    caller: Arc<Caller>,
}

/// Every token the server accepts, and the roles of Kubernetes identities.
#[derive(Debug)]
pub struct Tokens {
    known: Vec<Known>,
    kubernetes: Vec<(Subject, BTreeMap<String, Role>)>,
}

impl Tokens {
    /// Reads a tokens file's bytes; an error names the field.
    fn from_bytes(bytes: &[u8]) -> Result<Tokens, String> {
        if bytes.len() > MAX_DOCUMENT_BYTES {
            return Err(format!("larger than the {MAX_DOCUMENT_BYTES}-byte limit"));
        }
        let text = std::str::from_utf8(bytes).map_err(|_| "not UTF-8 text".to_string())?;
        Tokens::parse(text)
    }

    /// How many tokens there are (not counting the `kubernetes` entries).
    pub fn count(&self) -> usize {
        self.known.len()
    }

    /// Whether the file has a `kubernetes` section (which only `--token-review` uses).
    pub fn has_kubernetes(&self) -> bool {
        !self.kubernetes.is_empty()
    }

    /// Reads a tokens file's text; an error names the field.
    pub fn parse(text: &str) -> Result<Tokens, String> {
        let file: TokensFile = parse_document("tokens file", text).map_err(|e| e.to_string())?;
        if file.tokens.is_empty() && file.kubernetes.is_empty() {
            return Err(
                "tokens: no token given (and no kubernetes entry): nobody could call the server"
                    .into(),
            );
        }
        let mut known: Vec<Known> = Vec::with_capacity(file.tokens.len());
        for (i, entry) in file.tokens.into_iter().enumerate() {
            let at = |field: &str, m: &str| format!("tokens[{i}].{field}: {m}");
            if entry.name.trim().is_empty() {
                return Err(at("name", "must not be empty"));
            }
            if entry
                .name
                .chars()
                .any(|c| c.is_control() || c.is_whitespace())
            {
                return Err(at("name", "must not hold spaces or control characters"));
            }
            let digest = hex_digest(&entry.sha256).ok_or_else(|| {
                at(
                    "sha256",
                    "must be the 64 hex digits of the SHA-256 of the token",
                )
            })?;
            check_accounts(&entry.accounts).map_err(|(f, m)| at(&f, &m))?;
            if let Some(j) = known.iter().position(|k| k.caller.name == entry.name) {
                return Err(at("name", &format!("the same name as tokens[{j}]")));
            }
            if let Some(j) = known.iter().position(|k| k.digest == digest) {
                return Err(at("sha256", &format!("the same token as tokens[{j}]")));
            }
            known.push(Known {
                digest,
                caller: Arc::new(Caller {
                    name: entry.name,
                    grants: vec![entry.accounts],
                }),
            });
        }
        let mut kubernetes: Vec<(Subject, BTreeMap<String, Role>)> = Vec::new();
        for (i, entry) in file.kubernetes.into_iter().enumerate() {
            let at = |field: &str, m: &str| format!("kubernetes[{i}].{field}: {m}");
            let (field, subject) = match (entry.user, entry.group) {
                (Some(user), None) => ("user", Subject::User(user)),
                (None, Some(group)) => ("group", Subject::Group(group)),
                _ => {
                    return Err(format!(
                        "kubernetes[{i}]: give exactly one of `user` and `group`"
                    ));
                }
            };
            let (Subject::User(name) | Subject::Group(name)) = &subject;
            if name.trim().is_empty() {
                return Err(at(field, "must not be empty"));
            }
            if name.chars().any(char::is_control) {
                return Err(at(field, "must not hold control characters"));
            }
            check_accounts(&entry.accounts).map_err(|(f, m)| at(&f, &m))?;
            if let Some(j) = kubernetes.iter().position(|(s, _)| *s == subject) {
                return Err(at(field, &format!("the same {field} as kubernetes[{j}]")));
            }
            kubernetes.push((subject, entry.accounts));
        }
        Ok(Tokens { known, kubernetes })
    }

    /// The caller a Kubernetes identity is: its roles from the `kubernetes` entries of its
    /// user and of each of its groups (the highest per account). With no entry it holds no
    /// role, and every account answers 403.
    pub fn kubernetes_caller(&self, user: &str, groups: &[String]) -> Caller {
        let grants = self
            .kubernetes
            .iter()
            .filter(|(subject, _)| match subject {
                Subject::User(u) => u == user,
                Subject::Group(g) => groups.iter().any(|ug| ug == g),
            })
            .map(|(_, accounts)| accounts.clone())
            .collect();
        // The access log prints the name: only printable characters of it.
        let printable: String = user
            .chars()
            .map(|c| if c.is_ascii_graphic() { c } else { '?' })
            .collect();
        Caller {
            name: format!("kubernetes:{printable}"),
            grants,
        }
    }

    /// The caller an `Authorization` header value authenticates.
    pub fn caller(&self, header: Option<&[u8]>) -> Result<Arc<Caller>, Unauthenticated> {
        let header = header.ok_or(Unauthenticated::Missing)?;
        let token = bearer(header).ok_or(Unauthenticated::Malformed)?;
        let digest: [u8; 32] = Sha256::digest(token).into();
        // Every digest is compared, each in constant time: neither the time of one comparison
        // nor where the loop stops tells how close a guess came.
        let mut found = None;
        for k in &self.known {
            if bool::from(k.digest.ct_eq(&digest)) && found.is_none() {
                found = Some(&k.caller);
            }
        }
        found.cloned().ok_or(Unauthenticated::Unknown)
    }
}

/// Checks an entry's `accounts`: at least one, each an account name or `*`; an error names
/// the field under the entry and what is wrong.
fn check_accounts(accounts: &BTreeMap<String, Role>) -> Result<(), (String, String)> {
    if accounts.is_empty() {
        return Err((
            "accounts".into(),
            "must give a role in at least one account".into(),
        ));
    }
    for account in accounts.keys() {
        if account != EVERY_ACCOUNT
            && let Err(m) = astro_deploy::naming::check_account(account)
        {
            return Err((format!("accounts.{account}"), m));
        }
    }
    Ok(())
}

/// How often [`watch`] reads the tokens file again.
pub const RELOAD_EVERY: Duration = Duration::from_secs(2);

/// The tokens file of `--tokens`, and the tokens it held when it last loaded.
#[derive(Debug)]
pub struct TokenFile {
    path: PathBuf,
    current: RwLock<Arc<Tokens>>,
    /// SHA-256 of what the last read found (the content, or the read error): a change is
    /// acted on, and logged, once.
    seen: Mutex<[u8; 32]>,
}

/// What a new read of the tokens file did.
#[derive(Debug, PartialEq, Eq)]
pub enum Reload {
    /// The content is what the last read found.
    Unchanged,
    /// New content, loaded: this many tokens now.
    Loaded(usize),
    /// New content that does not load (or no file): the tokens stay as they were; why.
    Kept(String),
}

impl TokenFile {
    /// Reads the tokens file at `path`; an error names the file and the field.
    pub fn load(path: &Path) -> Result<TokenFile, Failure> {
        let fail = |m: String| Failure::invalid(format!("--tokens {}: {m}", path.display()));
        let bytes = std::fs::read(path).map_err(|e| fail(e.to_string()))?;
        let tokens = Tokens::from_bytes(&bytes).map_err(fail)?;
        Ok(TokenFile {
            path: path.to_path_buf(),
            current: RwLock::new(Arc::new(tokens)),
            seen: Mutex::new(Sha256::digest(&bytes).into()),
        })
    }

    /// The file's path, as given.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The tokens now in force.
    pub fn current(&self) -> Arc<Tokens> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The caller an `Authorization` header value authenticates, by the tokens now in force.
    pub fn caller(&self, header: Option<&[u8]>) -> Result<Arc<Caller>, Unauthenticated> {
        self.current().caller(header)
    }

    /// Reads the file again; new content that loads replaces the tokens, new content that
    /// does not load (or a file that cannot be read) leaves them as they were.
    pub fn reload(&self) -> Reload {
        let read = std::fs::read(&self.path).map_err(|e| e.to_string());
        let digest: [u8; 32] = match &read {
            Ok(bytes) => Sha256::digest(bytes).into(),
            Err(e) => Sha256::digest(format!("unreadable: {e}")).into(),
        };
        {
            let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
            if *seen == digest {
                return Reload::Unchanged;
            }
            *seen = digest;
        }
        match read.and_then(|bytes| Tokens::from_bytes(&bytes)) {
            Ok(tokens) => {
                let n = tokens.count();
                *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(tokens);
                Reload::Loaded(n)
            }
            Err(e) => Reload::Kept(e),
        }
    }
}

/// Reads the tokens file again every `every`, for as long as the server runs; writes one line
/// on stderr when new content loads or does not (naming the file and the field, never a
/// token: the file holds only digests).
pub async fn watch(file: Arc<TokenFile>, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tick.tick().await;
        let path = file.path().display().to_string();
        match file.reload() {
            Reload::Unchanged => {}
            Reload::Loaded(n) => err_line(format_args!(
                "--tokens {path}: changed: {n} token(s) now in force"
            )),
            Reload::Kept(e) => err_line(format_args!(
                "warning: --tokens {path}: changed but not loaded, keeping the {} token(s) \
                 loaded before: {e}",
                file.current().count()
            )),
        }
    }
}

/// The token of `Bearer <token>` (the scheme in any case, one or more spaces after it).
pub fn bearer(header: &[u8]) -> Option<&[u8]> {
    let scheme = header.get(..7)?;
    if !scheme.eq_ignore_ascii_case(b"bearer ") {
        return None;
    }
    let token = header[7..].trim_ascii();
    let printable = token.iter().all(|b| b.is_ascii_graphic());
    (!token.is_empty() && printable).then_some(token)
}

/// The 32 bytes of a 64-digit hex string (either case).
fn hex_digest(hex: &str) -> Option<[u8; 32]> {
    let hex = hex.as_bytes();
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in hex.chunks(2).enumerate() {
        let digit = |b: u8| (b as char).to_digit(16);
        out[i] = (digit(pair[0])? * 16 + digit(pair[1])?) as u8;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sha(token: &str) -> String {
        Sha256::digest(token.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    fn tokens() -> Tokens {
        let text = format!(
            "tokens:\n  - name: ci\n    sha256: {}\n    accounts: {{astro-team: deployer, other: viewer}}\n  - name: ops\n    sha256: {}\n    accounts: {{'*': admin, locked: viewer}}\n",
            sha("ci-secret"),
            sha("ops-secret").to_uppercase()
        );
        match Tokens::parse(&text) {
            Ok(t) => t,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn a_known_token_is_its_caller_with_its_roles() {
        let tokens = tokens();
        let Ok(ci) = tokens.caller(Some(b"Bearer ci-secret")) else {
            panic!("ci not known")
        };
        assert_eq!(ci.name, "ci");
        assert!(ci.may("astro-team", Role::Deployer));
        assert!(ci.may("other", Role::Viewer));
        assert!(!ci.may("other", Role::Deployer));
        assert!(!ci.may("elsewhere", Role::Viewer));
        let Ok(ops) = tokens.caller(Some(b"bearer   ops-secret ")) else {
            panic!("ops not known")
        };
        assert!(ops.may("anyone", Role::Admin));
        assert_eq!(ops.role("locked"), Some(Role::Viewer));
    }

    #[test]
    fn headers_that_authenticate_nobody() {
        let tokens = tokens();
        let cases: [(Option<&[u8]>, Unauthenticated); 6] = [
            (None, Unauthenticated::Missing),
            (Some(b"ci-secret"), Unauthenticated::Malformed),
            (Some(b"Basic Y2k6c2VjcmV0"), Unauthenticated::Malformed),
            (Some(b"Bearer "), Unauthenticated::Malformed),
            (Some(b"Bearer ci secret"), Unauthenticated::Malformed),
            (Some(b"Bearer ci-secreT"), Unauthenticated::Unknown),
        ];
        for (header, want) in cases {
            assert_eq!(tokens.caller(header).err(), Some(want), "{header:?}");
        }
    }

    fn file_text(entries: &[(&str, &str)]) -> String {
        let mut text = "tokens:\n".to_string();
        for (name, token) in entries {
            text.push_str(&format!(
                "  - {{name: {name}, sha256: {}, accounts: {{astro-team: viewer}}}}\n",
                sha(token)
            ));
        }
        text
    }

    #[test]
    fn a_changed_file_replaces_the_tokens_and_a_broken_one_keeps_them() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let write = |name: &str, text: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
            path
        };
        // The path is a symlink, swapped as the kubelet updates a mounted Secret.
        let link = dir.path().join("tokens.yaml");
        let first = write("v1.yaml", &file_text(&[("a", "token-a")]));
        std::os::unix::fs::symlink(&first, &link).unwrap_or_else(|e| panic!("{e}"));
        let file = TokenFile::load(&link).unwrap_or_else(|e| panic!("{:?}", e.body));
        let known = |token: &str| {
            file.caller(Some(format!("Bearer {token}").as_bytes()))
                .is_ok()
        };
        assert_eq!(file.reload(), Reload::Unchanged);
        assert!(known("token-a"));

        let swap = |target: &Path| {
            let next = dir.path().join("next");
            std::os::unix::fs::symlink(target, &next).unwrap_or_else(|e| panic!("{e}"));
            std::fs::rename(&next, &link).unwrap_or_else(|e| panic!("{e}"));
        };
        swap(&write(
            "v2.yaml",
            &file_text(&[("b", "token-b"), ("c", "token-c")]),
        ));
        assert_eq!(file.reload(), Reload::Loaded(2));
        assert!(!known("token-a") && known("token-b") && known("token-c"));
        assert_eq!(file.reload(), Reload::Unchanged);

        swap(&write(
            "v3.yaml",
            "tokens: [{name: d, sha256: nothex, accounts: {x: viewer}}]",
        ));
        match file.reload() {
            Reload::Kept(e) => assert!(e.starts_with("tokens[0].sha256:"), "{e}"),
            other => panic!("{other:?}"),
        }
        assert!(known("token-b"), "the tokens loaded before still work");
        assert_eq!(file.reload(), Reload::Unchanged, "one report per change");

        std::fs::remove_file(&link).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(file.reload(), Reload::Kept(_)));
        assert!(known("token-c"));
    }

    #[test]
    fn kubernetes_identities_get_the_highest_role_of_their_entries() {
        let text = "kubernetes:\n\
            - {user: 'system:serviceaccount:ci:bot', accounts: {a: deployer, b: viewer}}\n\
            - {group: platform, accounts: {'*': viewer, b: admin}}\n\
            - {group: other, accounts: {c: admin}}\n";
        let tokens = Tokens::parse(text).unwrap_or_else(|e| panic!("{e}"));
        let groups = ["platform".to_string(), "system:authenticated".to_string()];
        let bot = tokens.kubernetes_caller("system:serviceaccount:ci:bot", &groups);
        assert_eq!(bot.name, "kubernetes:system:serviceaccount:ci:bot");
        assert_eq!(bot.role("a"), Some(Role::Deployer), "the user's own entry");
        assert_eq!(bot.role("b"), Some(Role::Admin), "the group's, higher");
        assert_eq!(bot.role("z"), Some(Role::Viewer), "the group's `*`");
        assert_eq!(
            bot.role("c"),
            Some(Role::Viewer),
            "the group's `*`: not in group other"
        );
        assert_eq!(
            tokens.kubernetes_caller("bob", &["other".into()]).role("z"),
            None
        );
        let member = tokens.kubernetes_caller("alice", &groups);
        assert_eq!(member.role("a"), Some(Role::Viewer));
        let nobody = tokens.kubernetes_caller("mallory\nx", &[]);
        assert_eq!(nobody.role("a"), None);
        assert_eq!(nobody.name, "kubernetes:mallory?x");
        // A known token never matches a Kubernetes identity, nor the other way round.
        assert_eq!(
            tokens.caller(Some(b"Bearer x")).err(),
            Some(Unauthenticated::Unknown)
        );
    }

    #[test]
    fn a_bad_kubernetes_section_names_the_field() {
        let cases = [
            ("kubernetes: []", "no token given"),
            (
                "kubernetes: [{accounts: {x: viewer}}]",
                "kubernetes[0]: give exactly one",
            ),
            (
                "kubernetes: [{user: a, group: b, accounts: {x: viewer}}]",
                "kubernetes[0]: give exactly one",
            ),
            (
                "kubernetes: [{user: '', accounts: {x: viewer}}]",
                "kubernetes[0].user:",
            ),
            (
                "kubernetes: [{group: g, accounts: {}}]",
                "kubernetes[0].accounts:",
            ),
            (
                "kubernetes: [{group: g, accounts: {Bad_Account: viewer}}]",
                "kubernetes[0].accounts.Bad_Account:",
            ),
            (
                "kubernetes: [{group: g, accounts: {x: viewer}}, {group: g, accounts: {y: admin}}]",
                "kubernetes[1].group: the same group as kubernetes[0]",
            ),
            ("kubernetes: [{users: a, accounts: {x: viewer}}]", "users"),
        ];
        for (text, want) in cases {
            match Tokens::parse(text) {
                Ok(_) => panic!("accepted: {text}"),
                Err(e) => assert!(e.contains(want), "{text}: {e}"),
            }
        }
    }

    #[test]
    fn a_bad_tokens_file_names_the_field() {
        let digest = sha("x");
        let cases = [
            ("tokens: []".to_string(), "tokens: no token"),
            (
                format!("tokens: [{{name: a, sha256: {digest}, accounts: {{}}}}]"),
                "tokens[0].accounts:",
            ),
            (
                "tokens: [{name: a, sha256: abc, accounts: {x: viewer}}]".into(),
                "tokens[0].sha256:",
            ),
            (
                format!("tokens: [{{name: a, sha256: {digest}, accounts: {{x: owner}}}}]"),
                "tokens[0].accounts",
            ),
            (
                format!(
                    "tokens: [{{name: a, sha256: {digest}, accounts: {{Bad_Account: viewer}}}}]"
                ),
                "tokens[0].accounts.Bad_Account:",
            ),
            (
                format!(
                    "tokens: [{{name: a, sha256: {digest}, accounts: {{x: viewer}}}}, {{name: b, sha256: {digest}, accounts: {{x: viewer}}}}]"
                ),
                "tokens[1].sha256: the same token as tokens[0]",
            ),
            (
                format!(
                    "tokens: [{{name: a, sha256: {digest}, accounts: {{x: viewer}}, extra: 1}}]"
                ),
                "extra",
            ),
        ];
        for (text, want) in cases {
            match Tokens::parse(&text) {
                Ok(_) => panic!("accepted: {text}"),
                Err(e) => assert!(e.contains(want), "{text}: {e}"),
            }
        }
    }
}
