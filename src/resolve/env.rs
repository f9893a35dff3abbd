//! The env-var rules of Astropods spec §8: which credential keys the agent needs (§8.1, §5), the
//! connection details of self-hosted and container-mode components (§8.2, §8.3), and the
//! naming of keys when several entries share a provider.

use std::collections::{BTreeMap, BTreeSet};

use crate::naming::env_key_part;
use crate::spec::AstroSpec;
use crate::spec::providers::{Builtin, Section, SelfHosted, builtin};

/// One use of a provider by a spec entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ProviderUse<'a> {
    /// Entry name (the map key).
    pub entry: &'a str,
    /// Section of the entry.
    pub section: Section,
}

impl PartialOrd for Section {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Section {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.key().cmp(other.key())
    }
}

/// Every provider-mode entry of the spec, grouped by provider name, entries sorted.
pub fn provider_uses(spec: &AstroSpec) -> BTreeMap<&str, Vec<ProviderUse<'_>>> {
    let mut out: BTreeMap<&str, Vec<ProviderUse<'_>>> = BTreeMap::new();
    let sections = spec
        .models
        .iter()
        .map(|(n, m)| (n, Section::Models, m.provider.as_deref()))
        .chain(
            spec.knowledge
                .iter()
                .map(|(n, k)| (n, Section::Knowledge, k.provider.as_deref())),
        )
        .chain(
            spec.integrations
                .iter()
                .map(|(n, i)| (n, Section::Integrations, i.provider.as_deref())),
        );
    for (entry, section, provider) in sections {
        if let Some(p) = provider {
            out.entry(p)
                .or_default()
                .push(ProviderUse { entry, section });
        }
    }
    for uses in out.values_mut() {
        uses.sort();
    }
    out
}

/// Astropods spec §8.1 key naming for a provider used by `uses`: one entry gets `{P}_{suffix}`; several
/// get `{P}_{ENTRY}_{suffix}` each, the entry named like the provider gets only the bare key,
/// and the primary (named like the provider, else first alphabetically) also gets it.
/// Returns, per entry, the keys it owns.
pub fn shared_keys(
    provider: &str,
    uses: &[ProviderUse<'_>],
    suffix: &str,
) -> Vec<(String, Vec<String>)> {
    let p = env_key_part(provider);
    let bare = format!("{p}_{suffix}");
    if uses.len() <= 1 {
        return uses
            .iter()
            .map(|u| (u.entry.to_string(), vec![bare.clone()]))
            .collect();
    }
    let named_like_provider = uses.iter().any(|u| u.entry == provider);
    let mut first = true;
    let mut out = Vec::new();
    for u in uses {
        let mut keys = Vec::new();
        if u.entry == provider {
            keys.push(bare.clone());
        } else {
            keys.push(format!("{p}_{}_{suffix}", env_key_part(u.entry)));
            if !named_like_provider && first {
                keys.push(bare.clone());
            }
        }
        first = false;
        out.push((u.entry.to_string(), keys));
    }
    out
}

/// The credential keys the spec itself requires: cloud providers (§8.1), secret variables of
/// custom providers (§5), and the gateway. Sorted and unique.
pub fn provider_credentials(spec: &AstroSpec) -> BTreeSet<String> {
    let mut keys = BTreeSet::new();
    for (provider, uses) in provider_uses(spec) {
        let section = uses.first().map(|u| u.section).unwrap_or(Section::Models);
        match builtin(section, provider) {
            Some(Builtin::Cloud(c)) => {
                for (_, ks) in shared_keys(provider, &uses, c.suffix) {
                    keys.extend(ks);
                }
            }
            Some(Builtin::Gateway) => {
                keys.insert("ASTRO_GATEWAY_API_KEY".into());
                keys.insert("ASTRO_GATEWAY_URL".into());
            }
            Some(Builtin::SelfHosted(_)) => {}
            None => {
                if let Some(custom) = spec.providers.get(provider) {
                    for var in custom.variables.iter().filter(|v| v.secret && !v.optional) {
                        for (_, ks) in shared_keys(provider, &uses, &var.name) {
                            keys.extend(ks);
                        }
                    }
                }
            }
        }
    }
    if spec.agent.gateway_enabled() {
        keys.insert("ASTRO_GATEWAY_API_KEY".into());
        keys.insert("ASTRO_GATEWAY_URL".into());
    }
    keys
}

/// Connection details of one reachable component, as env-var key prefixes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    /// Key prefixes, e.g. `["QDRANT"]` or `["POSTGRES_MAIN", "POSTGRES"]`.
    pub prefixes: Vec<String>,
    /// Cluster DNS host.
    pub host: String,
    /// Port the agent connects to.
    pub port: u16,
    /// URL scheme, when the component has a URL form.
    pub scheme: Option<&'static str>,
    /// Self-hosted model providers: model ids for `{P}_MODEL` and `{P}_BASE_URL`.
    pub models: Option<Vec<String>>,
}

impl Connection {
    /// Writes `{prefix}_HOST/_PORT[/_URL][/_BASE_URL/_MODEL]` for every prefix.
    pub fn write(&self, out: &mut BTreeMap<String, String>) {
        for p in &self.prefixes {
            out.insert(format!("{p}_HOST"), self.host.clone());
            out.insert(format!("{p}_PORT"), self.port.to_string());
            if let Some(scheme) = self.scheme {
                let url = format!("{scheme}://{}:{}", self.host, self.port);
                if let Some(models) = &self.models {
                    out.insert(format!("{p}_BASE_URL"), format!("{url}/api"));
                    out.insert(format!("{p}_MODEL"), models.join(","));
                }
                out.insert(format!("{p}_URL"), url);
            }
        }
    }
}

/// Astropods spec §8.2 prefixes for the self-hosted entries of one provider: one entry gets the bare
/// prefix; several get `{PREFIX}_{ENTRY}` each and the first alphabetically also the bare one.
pub fn self_hosted_prefixes(sh: &SelfHosted, entries: &[&str]) -> Vec<(String, Vec<String>)> {
    if entries.len() <= 1 {
        return entries
            .iter()
            .map(|e| (e.to_string(), vec![sh.env_prefix.to_string()]))
            .collect();
    }
    entries
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let mut p = vec![format!("{}_{}", sh.env_prefix, env_key_part(e))];
            if i == 0 {
                p.push(sh.env_prefix.to_string());
            }
            (e.to_string(), p)
        })
        .collect()
}

/// Astropods spec §8.3 prefix of a container-mode entry: `MODEL_{NAME}`, `KNOWLEDGE_{NAME}`, `INTEGRATION_{NAME}`.
pub fn container_prefix(section: Section, entry: &str) -> String {
    format!("{}_{}", section.env_prefix(), env_key_part(entry))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uses<'a>(entries: &[&'a str]) -> Vec<ProviderUse<'a>> {
        entries
            .iter()
            .map(|e| ProviderUse {
                entry: e,
                section: Section::Models,
            })
            .collect()
    }

    fn flat(v: Vec<(String, Vec<String>)>) -> Vec<String> {
        let mut k: Vec<String> = v.into_iter().flat_map(|(_, k)| k).collect();
        k.sort();
        k
    }

    #[test]
    fn single_entry_gets_bare_key() {
        assert_eq!(
            flat(shared_keys("anthropic", &uses(&["primary"]), "API_KEY")),
            vec!["ANTHROPIC_API_KEY"]
        );
    }

    #[test]
    fn entry_named_like_provider_is_primary() {
        // Astropods spec §8.1 example: models.anthropic + models.sonnet, both anthropic.
        assert_eq!(
            flat(shared_keys(
                "anthropic",
                &uses(&["anthropic", "sonnet"]),
                "API_KEY"
            )),
            vec!["ANTHROPIC_API_KEY", "ANTHROPIC_SONNET_API_KEY"]
        );
    }

    #[test]
    fn without_a_namesake_the_first_alphabetically_is_primary() {
        assert_eq!(
            flat(shared_keys("openai", &uses(&["chat", "embed"]), "API_KEY")),
            vec![
                "OPENAI_API_KEY",
                "OPENAI_CHAT_API_KEY",
                "OPENAI_EMBED_API_KEY"
            ]
        );
    }

    #[test]
    fn custom_provider_keys_use_the_provider_prefix() {
        assert_eq!(
            flat(shared_keys("my-jira", &uses(&["jira"]), "API_KEY")),
            vec!["MY_JIRA_API_KEY"]
        );
    }
}
