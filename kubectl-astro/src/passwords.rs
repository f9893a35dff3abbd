//! Generated store passwords (postgres, redis, mysql): written once per Secret under their
//! own field manager (`<manager>-generated`) and never sent by our applies, so a redeploy
//! neither rotates nor re-reads them.

use astro_deploy::render::Manifest;
use astro_deploy::resolve::{Kind, StorePassword};
use base64::Engine;
use serde_json::Value;

use crate::cluster::{Cluster, Reply};
use crate::error::{CallError, Error};
use crate::stored::Stored;

/// The store passwords of a deployment, each with a fresh random value to write should its
/// Secret not hold one yet.
#[derive(Debug, Clone, Default)]
pub struct Passwords {
    entries: Vec<(StorePassword, String)>,
}

impl Passwords {
    /// A random candidate for each password, drawn up front so that no apply can fail for
    /// want of randomness once writes have begun.
    pub fn draw(passwords: &[StorePassword]) -> Result<Passwords, Error> {
        let mut entries = Vec::with_capacity(passwords.len());
        for sp in passwords {
            entries.push((sp.clone(), random_password()?));
        }
        Ok(Passwords { entries })
    }

    /// Whether `m` is a Secret holding generated passwords.
    pub fn holds(&self, m: &Manifest) -> bool {
        m.kind == Kind::Secret && self.entries.iter().any(|(sp, _)| sp.secret == m.name)
    }

    /// Whether `stored`, a reply for Secret `m`, holds every generated password of it.
    pub fn all_in(&self, m: &Manifest, stored: &Stored) -> bool {
        self.of(m).all(|(sp, _)| stored.has_data(&sp.key))
    }

    fn of<'a>(&'a self, m: &'a Manifest) -> impl Iterator<Item = &'a (StorePassword, String)> {
        self.entries
            .iter()
            .filter(move |(sp, _)| sp.secret == m.name)
    }

    /// Writes the passwords Secret `m` lacks (`stored` is what the server holds) under the
    /// generated field manager; returns the Secret after the write, or `None` when nothing
    /// was missing.
    pub async fn write_missing(
        &self,
        cluster: &Cluster,
        m: &Manifest,
        stored: &Stored,
    ) -> Result<Option<Reply>, CallError> {
        let mut data = serde_json::Map::new();
        for (sp, password) in self.of(m).filter(|(sp, _)| !stored.has_data(&sp.key)) {
            let b64 = base64::engine::general_purpose::STANDARD.encode(password);
            data.insert(sp.key.clone(), Value::String(b64));
        }
        if data.is_empty() {
            return Ok(None);
        }
        let body = serde_json::json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": m.name, "namespace": m.namespace},
            "data": data,
        });
        cluster
            .apply_as(
                &cluster.generated_manager(),
                Kind::Secret,
                &m.namespace,
                &m.name,
                &body,
            )
            .await
            .map(Some)
    }
}

/// 32 hex characters from the OS random source.
fn random_password() -> Result<String, Error> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)
        .map_err(|e| Error::Failed(format!("no OS randomness for a store password: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}
