//! Names: agent-name rules, Kubernetes name sanitising, env-key sanitising (Astropods spec
//! §8.5), namespaces, labels, short hashes and ingress hosts. The platform's naming rules
//! these follow are listed in docs/astropods-spec.md.

use sha2::{Digest, Sha256};

/// Names the platform reserves for itself.
pub const RESERVED_AGENT_NAMES: &[&str] = &["astro", "agent", "model", "integration"];

/// Splits `"@org/agent"` into `(Some("org"), "agent")`; a plain name has no org.
pub fn split_org(name: &str) -> (Option<&str>, &str) {
    match name.strip_prefix('@').and_then(|rest| rest.split_once('/')) {
        Some((org, agent)) => (Some(org), agent),
        None => (None, name),
    }
}

/// Checks an agent name: 2–63 chars of `[a-z0-9-]`, starting with a letter, ending
/// alphanumeric, not reserved. Returns what is wrong.
pub fn check_agent_name(name: &str) -> Result<(), String> {
    if name.len() < 2 || name.len() > 63 {
        return Err(format!(
            "must be 2 to 63 characters long, got {}",
            name.chars().count()
        ));
    }
    let bytes = name.as_bytes();
    let ok_chars = bytes
        .iter()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-');
    let first_ok = bytes.first().is_some_and(u8::is_ascii_lowercase);
    let last_ok = bytes
        .last()
        .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if !(ok_chars && first_ok && last_ok) {
        return Err(
            "must be lowercase letters, digits and '-', start with a letter and end with a letter or digit"
                .to_string(),
        );
    }
    if RESERVED_AGENT_NAMES.contains(&name) {
        return Err(format!("'{name}' is reserved"));
    }
    Ok(())
}

/// Checks an account slug: a DNS-1123 label (1–63 chars of `[a-z0-9-]`, alphanumeric ends).
pub fn check_account(account: &str) -> Result<(), String> {
    if is_dns_label(account) {
        Ok(())
    } else {
        Err("must be 1 to 63 lowercase letters, digits or '-', starting and ending with a letter or digit"
            .to_string())
    }
}

/// Whether `s` is a DNS-1123 label.
pub fn is_dns_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b.first().is_some_and(|c| c.is_ascii_alphanumeric())
        && b.last().is_some_and(|c| c.is_ascii_alphanumeric())
}

/// Whether `s` is a DNS-1123 subdomain, the form of most object names: at most 253
/// characters, dot-separated parts of lowercase letters, digits and `-` that start and end
/// with a letter or digit (apimachinery `IsDNS1123Subdomain`; the length of a part is not
/// limited on its own).
pub fn is_dns_subdomain(s: &str) -> bool {
    s.len() <= 253
        && s.split('.').all(|part| {
            let b = part.as_bytes();
            b.first().is_some_and(|c| c.is_ascii_alphanumeric())
                && b.last().is_some_and(|c| c.is_ascii_alphanumeric())
                && b.iter()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        })
}

/// Whether `s` is a valid env var / secret key name (`^[A-Za-z_][A-Za-z0-9_]*$`).
pub fn is_env_name(s: &str) -> bool {
    let b = s.as_bytes();
    b.first()
        .is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_')
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
}

/// The platform's `SanitizeName`: lowercase; `_` and `.` → `-`; drop other characters
/// outside `[a-z0-9-]`; collapse `-` runs; trim `-`; cut to 63.
pub fn sanitize_name(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars().flat_map(char::to_lowercase) {
        let c = if c == '_' || c == '.' { '-' } else { c };
        if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' {
            if c == '-' && out.ends_with('-') {
                continue;
            }
            out.push(c);
        }
    }
    let trimmed = out.trim_matches('-');
    cut(trimmed, 63)
}

/// Cuts `s` to at most `max` bytes (all ASCII here) and trims a trailing `-`.
fn cut(s: &str, max: usize) -> String {
    let mut s = s.get(..max.min(s.len())).unwrap_or(s).to_string();
    while s.ends_with('-') {
        s.pop();
    }
    s
}

/// Astropods spec §8.5 env-key sanitising: lowercase, `-`/`_`/`.` → `_`, drop other non-alphanumerics,
/// collapse `_`, trim `_`, uppercase. `my-model` → `MY_MODEL`.
pub fn env_key_part(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars().flat_map(char::to_lowercase) {
        let c = if c == '-' || c == '.' { '_' } else { c };
        if c.is_ascii_alphanumeric() || c == '_' {
            if c == '_' && out.ends_with('_') {
                continue;
            }
            out.push(c.to_ascii_uppercase());
        }
    }
    out.trim_matches('_').to_string()
}

/// Lowercase hex of the SHA-256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    hex_prefix(data, 64)
}

/// First `n` hex chars of the SHA-256 of `data`.
pub fn short_hash(data: &str, n: usize) -> String {
    hex_prefix(data.as_bytes(), n)
}

/// The first `n` (at most 64) lowercase hex chars of the SHA-256 of `data`.
fn hex_prefix(data: &[u8], n: usize) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let digest = Sha256::digest(data);
    let mut s = String::with_capacity(n.min(64));
    for b in digest.iter().flat_map(|b| [b >> 4, b & 0xf]).take(n) {
        s.push(char::from(DIGITS[usize::from(b)]));
    }
    s
}

/// Fits `s` into a DNS label of at most `max` chars: unchanged when it fits, otherwise cut
/// and suffixed with `-` + 8 hex of its hash so distinct long names stay distinct.
pub fn fit_with_hash(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let hash = short_hash(s, 8);
    format!("{}-{hash}", cut(s, max - 9))
}

/// The deployment namespace: `astro-{account}-{agent}`, hashed down to 63 chars.
pub fn namespace(account: &str, agent: &str) -> String {
    fit_with_hash(
        &sanitize_name_unbounded(&format!("astro-{account}-{agent}")),
        63,
    )
}

/// [`sanitize_name`] without the 63-char cut, for inputs to [`fit_with_hash`].
fn sanitize_name_unbounded(s: &str) -> String {
    // Only ASCII is kept, so the output is never longer than the input.
    let mut out = String::with_capacity(s.len());
    for c in s.chars().flat_map(char::to_lowercase) {
        let c = if c == '_' || c == '.' { '-' } else { c };
        if (c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !(c == '-' && (out.is_empty() || out.ends_with('-')))
        {
            out.push(c);
        }
    }
    if out.ends_with('-') {
        out.pop();
    }
    out
}

/// A resource name built from parts joined by `-`, sanitised and hashed down to `max`.
pub fn resource_name(parts: &[&str], max: usize) -> String {
    fit_with_hash(&sanitize_name_unbounded(&parts.join("-")), max)
}

/// The agent's ingress host: `{agent≤42}-{16 hex of sha256("{agent}-{namespace}")}.{domain}`.
pub fn agent_host(agent: &str, namespace: &str, domain: &str) -> String {
    let agent = sanitize_name(agent);
    let h16 = short_hash(&format!("{agent}-{}", sanitize_name(namespace)), 16);
    format!("{}-{h16}.{domain}", cut(&agent, 42))
}

/// A per-endpoint host (`chat` for web messaging, the ingestion name for webhooks):
/// `{agent}-{endpoint}-{8 hex of sha256("{agent}-{ns}-{endpoint}")}.{domain}`, the 63-char
/// label budget split fairly between the two names.
pub fn endpoint_host(agent: &str, namespace: &str, endpoint: &str, domain: &str) -> String {
    let agent = sanitize_name(agent);
    let endpoint = sanitize_name(endpoint);
    let h8 = short_hash(&format!("{agent}-{namespace}-{endpoint}"), 8);
    // 63 - 8 (hash) - 2 (dashes) = 53 chars for the two names.
    let budget = 53usize;
    let (mut a, mut e) = (agent.len(), endpoint.len());
    if a + e > budget {
        let half = budget / 2;
        if a <= half {
            e = budget - a;
        } else if e <= half {
            a = budget - e;
        } else {
            a = half;
            e = budget - half;
        }
    }
    format!("{}-{}-{h8}.{domain}", cut(&agent, a), cut(&endpoint, e))
}

/// A label value: at most 63 chars of `[A-Za-z0-9._-]` with alphanumeric ends.
pub fn label_value(s: &str) -> String {
    let cleaned: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '-'
            }
        })
        .collect();
    let trimmed = cleaned.trim_matches(|c: char| !c.is_ascii_alphanumeric());
    if trimmed.len() <= 63 {
        // Fits as it is: its ends are already alphanumeric.
        return if trimmed.len() == cleaned.len() {
            cleaned
        } else {
            trimmed.to_string()
        };
    }
    let fitted = fit_with_hash(trimmed, 63);
    fitted
        .trim_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_string()
}

/// The label every object of a deployment carries, naming its agent.
pub const AGENT_LABEL: &str = "astro.dev/agent";

/// The value of [`AGENT_LABEL`] for `name` (the agent name as typed) in `account`:
/// `{account}.{sanitized name}`, cut with a hash suffix when longer than 63 characters.
/// Resolve puts it on every object; undeploy checks it on the namespace before deleting.
pub fn agent_label(account: &str, name: &str) -> String {
    label_value(&format!("{account}.{}", sanitize_name(name)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_subdomains_limit_the_whole_name_only() {
        let long_part = format!("a{}", "b".repeat(98));
        for ok in ["a", "tls", "wild-card.tls", "0x", long_part.as_str()] {
            assert!(is_dns_subdomain(ok), "{ok}");
        }
        let too_long = "a".repeat(254);
        for bad in [
            "",
            "A",
            "-a",
            "a-",
            "a..b",
            ".a",
            "a.",
            "a_b",
            too_long.as_str(),
        ] {
            assert!(!is_dns_subdomain(bad), "{bad}");
        }
        assert!(is_dns_subdomain(&"a".repeat(253)));
    }

    /// Runs of `-` collapse and the ends are trimmed, whatever the input (the previous
    /// formulation, which trimmed a copy, is the oracle).
    #[test]
    fn sanitizing_collapses_dashes_and_trims_the_ends() {
        let oracle = |s: &str| {
            let mut out = String::new();
            for c in s.chars().flat_map(char::to_lowercase) {
                let c = if c == '_' || c == '.' { '-' } else { c };
                if (c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                    && !(c == '-' && out.ends_with('-'))
                {
                    out.push(c);
                }
            }
            out.trim_matches('-').to_string()
        };
        let alphabet = [
            '-', '_', '.', 'a', 'Z', '9', ' ', 'é', '\u{212a}', '\u{130}',
        ];
        let mut checked = 0;
        for n in 0..=5u32 {
            for mut i in 0..alphabet.len().pow(n) {
                let mut s = String::new();
                for _ in 0..n {
                    s.push(alphabet[i % alphabet.len()]);
                    i /= alphabet.len();
                }
                assert_eq!(sanitize_name_unbounded(&s), oracle(&s), "{s:?}");
                checked += 1;
            }
        }
        assert_eq!(checked, 111_111);
        assert_eq!(sanitize_name_unbounded("--My_Agent..v2--"), "my-agent-v2");
    }

    #[test]
    fn hashes_are_lowercase_hex_of_sha256() {
        // FIPS 180-2 test vectors.
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(short_hash("abc", 8), "ba7816bf");
        assert_eq!(short_hash("abc", 1), "b");
        assert_eq!(short_hash("abc", 0), "");
        assert_eq!(short_hash("abc", 100), sha256_hex(b"abc"));
    }

    #[test]
    fn sanitize_follows_platform_rules() {
        assert_eq!(sanitize_name("My_Agent.v2"), "my-agent-v2");
        assert_eq!(sanitize_name("--a__b--"), "a-b");
        assert_eq!(sanitize_name(&"x".repeat(70)).len(), 63);
    }

    #[test]
    fn env_key_part_follows_rfc_8_5() {
        assert_eq!(env_key_part("my-model"), "MY_MODEL");
        assert_eq!(env_key_part("a..b--c"), "A_B_C");
        assert_eq!(env_key_part("_x_"), "X");
    }

    #[test]
    fn long_namespace_gets_hash_suffix_and_stays_unique() {
        let a = namespace(&"a".repeat(40), &format!("{}-one", "b".repeat(30)));
        let b = namespace(&"a".repeat(40), &format!("{}-two", "b".repeat(30)));
        assert_eq!(a.len(), 63);
        assert_ne!(a, b);
        assert!(is_dns_label(&a));
        assert_eq!(
            namespace("astro-team", "weather-agent"),
            "astro-astro-team-weather-agent"
        );
    }

    #[test]
    fn agent_names() {
        assert!(check_agent_name("weather-agent").is_ok());
        assert!(check_agent_name("a").is_err());
        assert!(check_agent_name("1abc").is_err());
        assert!(check_agent_name("abc-").is_err());
        assert!(check_agent_name("agent").is_err());
        assert_eq!(
            split_org("@astropods/cruise-line"),
            (Some("astropods"), "cruise-line")
        );
        assert_eq!(split_org("plain"), (None, "plain"));
    }

    #[test]
    fn hosts_fit_a_dns_label() {
        let h = endpoint_host(&"a".repeat(60), "ns", &"b".repeat(60), "example.com");
        let label = h.split('.').next().unwrap_or_default();
        assert!(label.len() <= 63, "{label}");
        let h = agent_host(
            "weather-agent",
            "astro-astro-team-weather-agent",
            "agents.example.com",
        );
        assert!(h.starts_with("weather-agent-") && h.ends_with(".agents.example.com"));
        assert_eq!(
            h.split('.').next().map(str::len),
            Some("weather-agent-".len() + 16)
        );
    }

    /// A label value (Kubernetes `IsValidLabelValue`): at most 63 characters of
    /// `[A-Za-z0-9._-]`, beginning and ending alphanumeric.
    fn is_label_value(s: &str) -> bool {
        s.len() <= 63
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
            && (s.is_empty()
                || s.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
                    && s.bytes().last().is_some_and(|b| b.is_ascii_alphanumeric()))
    }

    #[test]
    fn agent_label_of_long_names_is_a_valid_label_value() {
        // Golden case 12's account and agent name: 96 characters joined.
        let account = "enterprise-customer-platform-engineering";
        let name = "quarterly-financial-report-summarizer-assistant";
        let label = agent_label(account, name);
        assert!(label.len() <= 63, "{label}");
        assert!(is_label_value(&label), "{label}");
        assert!(label.starts_with(&account[..20]), "{label}");
        assert_ne!(
            label,
            agent_label(account, "quarterly-financial-report-summarizer-assistant2")
        );
        assert_eq!(
            agent_label("astro-team", "weather-agent"),
            "astro-team.weather-agent"
        );
    }
}
