//! The inventory: which objects the last deploy applied and what the server returned for
//! each. It lives in one annotation of the deployment's Namespace, written under its own field
//! manager, so the Namespace apply that starts every deploy also reads it — no extra request.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;

use astro_deploy::naming::{sha256_hex, short_hash};
use astro_deploy::resolve::{Kind, ResolvedDeployment};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::body::ApplyBody;
use crate::cluster::Cluster;
use crate::error::CallError;
use crate::stored::Stored;

/// Annotation holding the inventory JSON.
pub const ANNOTATION: &str = "astro.dev/inventory";

/// Which object an inventory entry is about. Written as `Kind/name`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct InventoryKey {
    /// The object's kind.
    pub kind: Kind,
    /// Its name.
    pub name: String,
}

impl InventoryKey {
    /// The key of object `name` of `kind`.
    pub fn new(kind: Kind, name: impl Into<String>) -> InventoryKey {
        InventoryKey {
            kind,
            name: name.into(),
        }
    }

    /// Reads `Kind/name`; `None` for text of another shape or a kind we do not render.
    pub fn parse(text: &str) -> Option<InventoryKey> {
        let (kind, name) = text.split_once('/')?;
        Some(InventoryKey::new(Kind::from_name(kind)?, name))
    }
}

impl fmt::Display for InventoryKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.kind.as_str(), self.name)
    }
}

/// Keys sort as their `Kind/name` text does (no kind's name is a prefix of another's), so
/// the annotation lists them in the order it always did.
impl Ord for InventoryKey {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.kind.as_str(), &self.name).cmp(&(other.kind.as_str(), &other.name))
    }
}

impl PartialOrd for InventoryKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// What the inventory records of one object: its [`state`] after the last deploy, and the
/// [`proof`] that re-applying it would change nothing, when there is one. Written as the
/// state, a space, then the proof.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Token {
    /// The object's [`state`]; empty while its apply's outcome is not known yet (recorded
    /// before the object was created).
    pub state: String,
    /// The [`proof`], if there is one.
    pub proof: Option<String>,
}

impl Token {
    /// A token for an object about to be created: listed, outcome unknown.
    pub fn pending() -> Token {
        Token::default()
    }

    /// Reads a token as written.
    pub fn parse(text: &str) -> Token {
        match text.split_once(' ') {
            Some((state, proof)) => Token {
                state: state.to_string(),
                proof: Some(proof.to_string()),
            },
            None => Token {
                state: text.to_string(),
                proof: None,
            },
        }
    }
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.proof {
            Some(p) => write!(f, "{} {p}", self.state),
            None => f.write_str(&self.state),
        }
    }
}

/// Objects of the last deploy and what was recorded of each.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inventory {
    /// Build that was deployed.
    pub build_id: String,
    /// Each object's token.
    pub objects: BTreeMap<InventoryKey, Token>,
}

/// The inventory as the annotation holds it.
#[derive(Serialize, Deserialize)]
struct Recorded {
    #[serde(default)]
    build_id: String,
    #[serde(default)]
    objects: BTreeMap<String, String>,
}

impl Inventory {
    /// The inventory recorded on a Namespace object, if any (an unreadable one counts as none;
    /// entries naming a kind we do not render are left out).
    pub fn from_namespace(ns: &Value) -> Option<Inventory> {
        let text = ns
            .pointer("/metadata/annotations")?
            .get(ANNOTATION)?
            .as_str()?;
        let recorded: Recorded = serde_json::from_str(text).ok()?;
        Some(Inventory {
            build_id: recorded.build_id,
            objects: recorded
                .objects
                .iter()
                .filter_map(|(k, t)| Some((InventoryKey::parse(k)?, Token::parse(t))))
                .collect(),
        })
    }

    /// The apply body that records this inventory on namespace `ns`.
    pub fn apply_body(&self, ns: &str) -> Value {
        let recorded = Recorded {
            build_id: self.build_id.clone(),
            objects: self
                .objects
                .iter()
                .map(|(k, t)| (k.to_string(), t.to_string()))
                .collect(),
        };
        let text = serde_json::to_string(&recorded).unwrap_or_default();
        serde_json::json!({
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": ns, "annotations": {ANNOTATION: text}},
        })
    }
}

/// Adds every object carrying `resolved`'s labels in its namespace to `inv` (outcome
/// unknown): the inventory of a namespace whose deploy was cut short before recording one.
pub async fn recover(
    cluster: &Cluster,
    resolved: &ResolvedDeployment,
    inv: &mut Inventory,
) -> Result<(), CallError> {
    let selector = resolved
        .common_labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",");
    for kind in Kind::ALL.into_iter().filter(|k| *k != Kind::Namespace) {
        for item in cluster.list(kind, &resolved.namespace, &selector).await? {
            if let Some(name) = item.pointer("/metadata/name").and_then(Value::as_str) {
                inv.objects
                    .entry(InventoryKey::new(kind, name))
                    .or_default();
            }
        }
    }
    Ok(())
}

/// A token that changes exactly when the object's content changes, not when a controller
/// writes status: `g:<generation>` for workloads (the generation moves with every spec change,
/// ours or anyone's, and never with status), `rv:<resourceVersion>` for kinds without status
/// writers. The Namespace's is [`namespace_state`].
pub fn state(kind: Kind, stored: &Stored, applied: &Value) -> String {
    match kind {
        Kind::Deployment | Kind::StatefulSet | Kind::Job | Kind::CronJob => {
            let labels = project(
                &stored.labels,
                applied.pointer("/metadata/labels").unwrap_or(&Value::Null),
            );
            let annotations = project(
                &stored.annotations,
                applied
                    .pointer("/metadata/annotations")
                    .unwrap_or(&Value::Null),
            );
            format!(
                "g:{}:{}",
                stored.generation,
                short_hash(&canonical(&serde_json::json!([labels, annotations])), 8)
            )
        }
        _ => format!("rv:{}", stored.resource_version.as_deref().unwrap_or("")),
    }
}

/// The Namespace's [`state`]: a fingerprint of the fields we applied (its resourceVersion
/// moves with the inventory itself).
pub fn namespace_state(stored: &Value, applied: &Value) -> String {
    format!("f:{}", fingerprint(stored, applied))
}

/// Proof that applying the body `sent` again would change nothing, for an object the server
/// `stored` after our apply of it: `c:<hash of the body we sent> m:<hash of our field
/// manager's Apply entry in managedFields>`. Server-side apply is idempotent — a re-apply
/// that changes nothing stores nothing and leaves our entry's `time` alone
/// (structured-merge-diff `merge.Updater.Apply` returns no new object) — so while both
/// hold — the same body, and nobody has taken, dropped or changed a field we own (a forced
/// apply or an update of one of our fields removes it from our set: `Updater.Apply` with
/// force, `Updater.Update`; a re-create drops the entry) — re-applying is a no-op, and
/// neither `diff` nor `deploy` needs to send it. The entry is hashed as the server
/// serialized it, which is deterministic (`managedfields.encodeManagedFields` sorts the
/// entries). `None` when the object carries no entry of ours (`stored` was read for our
/// field manager) or is being deleted. See `docs/architecture.md` for the whole protocol.
pub fn proof(stored: &Stored, sent: &ApplyBody) -> Option<String> {
    // An object on its way out proves nothing: it is applied, and that says what happens.
    if stored.deleting {
        return None;
    }
    // Both as serialized, not canonical: the same server writes the same entry the same way,
    // and should the text differ without the content, the cost is one dry-run, not an error.
    let entry = stored.applied_entry.as_deref()?;
    let mut entry_hash = sha256_hex(entry);
    entry_hash.truncate(16);
    Some(format!("c:{} m:{entry_hash}", sent.hash()))
}

/// An inventory token: the object's [`state`], then its [`proof`] when there is one.
pub fn token(state: String, proof: Option<String>) -> Token {
    Token { state, proof }
}

/// A fingerprint of an object as stored, restricted to the fields we applied: it changes
/// when the server holds a different value for one of our fields (our change, or someone
/// else's), and not when a controller adds its own fields or writes status.
pub fn fingerprint(stored: &Value, applied: &Value) -> String {
    short_hash(&canonical(&project(stored, applied)), 16)
}

/// `stored` cut down to the shape of `applied`: map keys we did not send are dropped; lists
/// of the same length are projected item by item, other lists kept whole.
fn project(stored: &Value, applied: &Value) -> Value {
    match (stored, applied) {
        (_, Value::Null) => Value::Null,
        (Value::Object(s), Value::Object(a)) => Value::Object(
            a.iter()
                .map(|(k, av)| {
                    (
                        k.clone(),
                        s.get(k).map(|sv| project(sv, av)).unwrap_or(Value::Null),
                    )
                })
                .collect(),
        ),
        (Value::Array(s), Value::Array(a)) if s.len() == a.len() => {
            Value::Array(s.iter().zip(a).map(|(sv, av)| project(sv, av)).collect())
        }
        (s, _) => s.clone(),
    }
}

/// JSON with object keys sorted, so equal content gives equal text.
fn canonical(v: &Value) -> String {
    let mut out = String::new();
    write_canonical(v, &mut out);
    out
}

/// Appends `v` to `out` as [`canonical`] JSON, in one pass over one buffer (a deploy
/// fingerprints every object and its managedFields entry: this runs over every field).
fn write_canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_unstable();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                push_json_string(k, out);
                out.push(':');
                write_canonical(&map[k], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        Value::String(s) => push_json_string(s, out),
        other => out.push_str(&other.to_string()),
    }
}

/// Appends `s` as a JSON string literal.
fn push_json_string(s: &str, out: &mut String) {
    // serde_json's escaping, written straight into the buffer.
    let _ = serde_json::to_writer(StringWriter(out), s);
}

/// `io::Write` into a `String` (serde_json writes valid UTF-8 only).
struct StringWriter<'a>(&'a mut String);

impl std::io::Write for StringWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = std::str::from_utf8(buf).map_err(std::io::Error::other)?;
        self.0.push_str(text);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// `stored` as deploy reads an answer holding it, for field manager `manager`.
    fn read_for(manager: &str, stored: &Value) -> Stored {
        Stored::parse(stored.to_string().as_bytes(), manager)
    }

    fn read(stored: &Value) -> Stored {
        read_for("kubectl-astro", stored)
    }

    #[test]
    fn fingerprint_covers_our_fields_only() {
        let applied =
            json!({"kind": "Deployment", "metadata": {"name": "x"}, "spec": {"replicas": 1}});
        let a = json!({"kind": "Deployment", "metadata": {"name": "x", "resourceVersion": "1", "generation": 1},
            "spec": {"replicas": 1, "revisionHistoryLimit": 10}, "status": {"readyReplicas": 0}});
        // A controller annotated it and wrote status: still our content.
        let b = json!({"metadata": {"resourceVersion": "7", "name": "x", "generation": 1,
            "annotations": {"deployment.kubernetes.io/revision": "1"}}, "kind": "Deployment",
            "spec": {"replicas": 1, "revisionHistoryLimit": 10}, "status": {"readyReplicas": 1}});
        // Someone scaled it: one of our fields holds another value.
        let c = json!({"kind": "Deployment", "metadata": {"name": "x"}, "spec": {"replicas": 2}});
        assert_eq!(fingerprint(&a, &applied), fingerprint(&b, &applied));
        assert_ne!(fingerprint(&a, &applied), fingerprint(&c, &applied));
    }

    #[test]
    fn workload_state_follows_generation_not_status() {
        let applied = json!({"metadata": {"name": "x", "labels": {"a": "1"}}, "spec": {}});
        let v1 = json!({"metadata": {"name": "x", "generation": 1, "resourceVersion": "5", "labels": {"a": "1"}}});
        let status_write = json!({"metadata": {"name": "x", "generation": 1, "resourceVersion": "9", "labels": {"a": "1"},
            "annotations": {"deployment.kubernetes.io/revision": "1"}}, "status": {"readyReplicas": 1}});
        let spec_change = json!({"metadata": {"name": "x", "generation": 2, "resourceVersion": "11", "labels": {"a": "1"}}});
        assert_eq!(
            state(Kind::Deployment, &read(&v1), &applied),
            state(Kind::Deployment, &read(&status_write), &applied)
        );
        assert_ne!(
            state(Kind::Deployment, &read(&v1), &applied),
            state(Kind::Deployment, &read(&spec_change), &applied)
        );
        let cm1 = json!({"metadata": {"resourceVersion": "5"}});
        let cm2 = json!({"metadata": {"resourceVersion": "6"}});
        assert_ne!(
            state(Kind::ConfigMap, &read(&cm1), &applied),
            state(Kind::ConfigMap, &read(&cm2), &applied)
        );
    }

    #[test]
    fn proof_follows_our_body_and_our_managed_fields_entry() {
        let applied = json!({"metadata": {"name": "x"}, "data": {"a": "1"}});
        let body = |v: &Value| ApplyBody::new(v).expect("a Value serializes");
        let applied = body(&applied);
        let ours = json!({"manager": "kubectl-astro", "operation": "Apply", "apiVersion": "v1",
            "time": "2026-01-01T00:00:00Z", "fieldsType": "FieldsV1",
            "fieldsV1": {"f:data": {"f:a": {}}}});
        let theirs = json!({"manager": "kubectl-edit", "operation": "Update", "apiVersion": "v1",
            "time": "2026-01-02T00:00:00Z", "fieldsType": "FieldsV1",
            "fieldsV1": {"f:data": {"f:b": {}}}});
        let stored = json!({"metadata": {"name": "x", "managedFields": [ours.clone()]},
            "data": {"a": "1"}});
        let p = proof(&read_for("kubectl-astro", &stored), &applied).expect("our entry is there");
        // The formula existing inventories hold: the texts as serde_json prints them, hashed.
        let text = r#"{"metadata":{"name":"x"},"data":{"a":"1"}}"#;
        let formula = format!(
            "c:{} m:{}",
            short_hash(text, 16),
            short_hash(&ours.to_string(), 16)
        );
        assert_eq!(p, formula);
        // Another manager adding a field of its own, or a status write: still provable.
        let other_field = json!({"metadata": {"name": "x", "managedFields": [ours, theirs]},
            "data": {"a": "1", "b": "2"}});
        assert_eq!(
            proof(&read_for("kubectl-astro", &other_field), &applied),
            Some(p.clone())
        );
        // Someone took our field (our entry loses it): no longer the same proof.
        let taken = json!({"metadata": {"name": "x", "managedFields": [
            {"manager": "kubectl-astro", "operation": "Apply", "apiVersion": "v1",
             "time": "2026-01-01T00:00:00Z", "fieldsType": "FieldsV1", "fieldsV1": {}}]}});
        assert_ne!(
            proof(&read_for("kubectl-astro", &taken), &applied),
            Some(p.clone())
        );
        // Another body: another proof.
        let changed = body(&json!({"metadata": {"name": "x"}, "data": {"a": "2"}}));
        assert_ne!(
            proof(&read_for("kubectl-astro", &stored), &changed),
            Some(p.clone())
        );
        // No entry of ours (re-created by someone else, or another manager name): none.
        assert_eq!(proof(&read_for("someone-else", &stored), &applied), None);
        // Being deleted: none, whatever the entry says.
        let mut deleting = stored.clone();
        deleting["metadata"]["deletionTimestamp"] = json!("2026-01-03T00:00:00Z");
        assert_eq!(proof(&read_for("kubectl-astro", &deleting), &applied), None);
        // Tokens carry state then proof; old tokens are state only.
        let t = token("rv:5".into(), Some(p.clone()));
        assert_eq!(Token::parse(&t.to_string()), t);
        assert_eq!(t.to_string(), format!("rv:5 {p}"));
        assert_eq!(Token::parse("rv:5"), token("rv:5".into(), None));
    }

    /// [`state`] as it was computed from the answer parsed whole (before [`Stored`]).
    fn state_from_value(kind: Kind, stored: &Value, applied: &Value) -> String {
        let meta = |k: &str| {
            stored
                .pointer(&format!("/metadata/{k}"))
                .cloned()
                .unwrap_or(Value::Null)
        };
        match kind {
            Kind::Deployment | Kind::StatefulSet | Kind::Job | Kind::CronJob => {
                let labels = project(
                    &meta("labels"),
                    applied.pointer("/metadata/labels").unwrap_or(&Value::Null),
                );
                let annotations = project(
                    &meta("annotations"),
                    applied
                        .pointer("/metadata/annotations")
                        .unwrap_or(&Value::Null),
                );
                format!(
                    "g:{}:{}",
                    meta("generation"),
                    short_hash(&canonical(&json!([labels, annotations])), 8)
                )
            }
            Kind::Namespace => format!("f:{}", fingerprint(stored, applied)),
            _ => format!("rv:{}", meta("resourceVersion").as_str().unwrap_or("")),
        }
    }

    /// [`proof`] as it was computed from the answer parsed whole and the body serialized again.
    fn proof_from_value(manager: &str, stored: &Value, applied: &Value) -> Option<String> {
        if stored.pointer("/metadata/deletionTimestamp").is_some() {
            return None;
        }
        let entry = stored
            .pointer("/metadata/managedFields")?
            .as_array()?
            .iter()
            .find(|e| {
                e.get("manager").and_then(Value::as_str) == Some(manager)
                    && e.get("operation").and_then(Value::as_str) == Some("Apply")
                    && e.get("subresource").is_none_or(|s| s.as_str() == Some(""))
            })?;
        Some(format!(
            "c:{} m:{}",
            short_hash(&applied.to_string(), 16),
            short_hash(&entry.to_string(), 16)
        ))
    }

    /// Existing inventories keep matching: every token part is what it was when the answer
    /// was parsed whole and the body serialized twice, on answers and bodies of every shape.
    /// The one exception is the `m:` part of an entry the server did not write as its compact
    /// `serde_json` print (spaces, escapes `serde_json` would not write, a repeated key): it is
    /// now hashed as sent. Go's encoder writes compact JSON, escaping only `<`, `>`, `&`,
    /// U+2028 and U+2029 unlike `serde_json`, so such an inventory re-applies those objects
    /// once (a no-op on the server).
    #[test]
    fn tokens_are_what_they_were_before_the_narrow_read() {
        let applied = [
            json!({}),
            json!({"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "agent", "labels": {"app": "agent", "tier": "x", "gone": "y"},
                    "annotations": {"astro.dev/env-hash": "abc"}},
                "spec": {"replicas": 1, "template": {"spec": {"containers": [{"name": "agent",
                    "image": "i:1", "env": [{"name": "A", "value": "é \" </script> 𝄞"}]}]}}}}),
            json!({"metadata": {"name": "s", "labels": ["odd"], "annotations": null},
                "data": {"user": "dXNlcg=="}, "n": [1.5, -2, 18446744073709551615u64]}),
        ];
        let kinds = [
            Kind::Deployment,
            Kind::StatefulSet,
            Kind::Job,
            Kind::CronJob,
            Kind::Secret,
            Kind::ConfigMap,
            Kind::Service,
            Kind::Ingress,
            Kind::NetworkPolicy,
        ];
        let (mut proofs, mut reprinted) = (0, 0);
        for text in crate::stored::tests::ANSWERS {
            let value: Value = serde_json::from_str(text).unwrap_or(Value::Null);
            for manager in ["kubectl-astro", "kubectl-astro-generated", "other"] {
                let stored = Stored::parse(text.as_bytes(), manager);
                for object in &applied {
                    let body = ApplyBody::new(object).expect("a Value serializes");
                    let new = proof(&stored, &body);
                    let old = proof_from_value(manager, &value, object);
                    let as_printed = stored.applied_entry.as_deref().is_none_or(|entry| {
                        serde_json::from_slice::<Value>(entry)
                            .is_ok_and(|v| v.to_string().as_bytes() == entry)
                    });
                    if as_printed {
                        assert_eq!(new, old, "{text}");
                    } else {
                        let body_part = |p: &Option<String>| {
                            p.as_deref()
                                .and_then(|p| p.split_once(' '))
                                .map(|(c, _)| c.to_string())
                        };
                        assert_eq!(body_part(&new), body_part(&old), "{text}");
                        assert_ne!(new, old, "{text}");
                        reprinted += 1;
                    }
                    proofs += usize::from(new.is_some());
                    for kind in kinds {
                        assert_eq!(
                            state(kind, &stored, object),
                            state_from_value(kind, &value, object),
                            "{text} {kind:?}"
                        );
                    }
                    assert_eq!(
                        namespace_state(&value, object),
                        state_from_value(Kind::Namespace, &value, object)
                    );
                }
            }
        }
        assert!(proofs >= 20, "{proofs}");
        // The spaced and escaped answer and the repeated key in a field set, per body.
        assert_eq!(reprinted, 6);
    }

    #[test]
    fn canonical_sorts_keys_at_every_level_and_escapes_strings() {
        let a = json!({"b": [1, {"y": "q\"uote", "x": null}], "a": {"d": true, "c": 1.5}});
        let b = json!({"a": {"c": 1.5, "d": true}, "b": [1, {"x": null, "y": "q\"uote"}]});
        let text = canonical(&a);
        assert_eq!(text, canonical(&b));
        assert_eq!(
            text,
            r#"{"a":{"c":1.5,"d":true},"b":[1,{"x":null,"y":"q\"uote"}]}"#
        );
        assert_ne!(canonical(&json!([1, 2])), canonical(&json!([2, 1])));
    }

    #[test]
    fn inventory_round_trips_through_the_namespace_annotation() {
        let mut inv = Inventory {
            build_id: "b1".into(),
            ..Default::default()
        };
        inv.objects
            .insert(InventoryKey::new(Kind::Secret, "s"), Token::parse("abc"));
        inv.objects.insert(
            InventoryKey::new(Kind::Service, "b"),
            Token::parse("rv:1 c:0 m:1"),
        );
        let body = inv.apply_body("ns");
        assert_eq!(Inventory::from_namespace(&body), Some(inv));
        assert_eq!(Inventory::from_namespace(&json!({"metadata": {}})), None);
        // The annotation as earlier versions wrote it: keys in text order, tokens as text.
        let text = body["metadata"]["annotations"][ANNOTATION]
            .as_str()
            .unwrap_or("");
        assert_eq!(
            text,
            r#"{"build_id":"b1","objects":{"Secret/s":"abc","Service/b":"rv:1 c:0 m:1"}}"#
        );
        // An entry of a kind we do not render is left out, not the whole inventory.
        let foreign = json!({"metadata": {"annotations": {ANNOTATION:
            r#"{"build_id":"b","objects":{"Pod/p":"rv:1","Secret/s":"rv:2"}}"#}}});
        let read = Inventory::from_namespace(&foreign).map(|i| i.objects.len());
        assert_eq!(read, Some(1));
    }
}
