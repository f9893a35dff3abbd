//! Who may call the Deploy API: bearer tokens from the tokens file, each known only by the
//! SHA-256 digest of its value, with a role per account.
//!
//! A presented token is hashed and its digest compared with every known digest in constant
//! time. No token value is ever stored, logged or echoed: errors name the file, the field
//! and the token's `name`.
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
    tokens: Vec<TokenEntry>,
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

/// An authenticated caller: the name of its token and its roles.
#[derive(Debug)]
pub struct Caller {
    /// The token's `name` in the tokens file.
    pub name: String,
    accounts: BTreeMap<String, Role>,
}

impl Caller {
    /// The caller's role in `account`: the account's own entry, else the `*` entry.
    pub fn role(&self, account: &str) -> Option<Role> {
        self.accounts
            .get(account)
            .or_else(|| self.accounts.get(EVERY_ACCOUNT))
            .copied()
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

/// Every token the server accepts.
#[derive(Debug)]
pub struct Tokens {
    known: Vec<Known>,
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

    /// How many tokens there are.
    pub fn count(&self) -> usize {
        self.known.len()
    }

    /// Reads a tokens file's text; an error names the field.
    pub fn parse(text: &str) -> Result<Tokens, String> {
        let file: TokensFile = parse_document("tokens file", text).map_err(|e| e.to_string())?;
        if file.tokens.is_empty() {
            return Err("tokens: no token given: nobody could call the server".into());
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
            if entry.accounts.is_empty() {
                return Err(at("accounts", "must give a role in at least one account"));
            }
            for account in entry.accounts.keys() {
                if account != EVERY_ACCOUNT
                    && let Err(m) = astro_deploy::naming::check_account(account)
                {
                    return Err(at(&format!("accounts.{account}"), &m));
                }
            }
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
                    accounts: entry.accounts,
                }),
            });
        }
        Ok(Tokens { known })
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
fn bearer(header: &[u8]) -> Option<&[u8]> {
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
