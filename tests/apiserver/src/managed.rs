//! managedFields: entry identity, ordering and encoding (apimachinery
//! `util/managedfields/internal/managedfields.go`), the strip list (`stripmeta.go`), and the apply
//! and update ownership algorithms (structured-merge-diff `merge.Updater`).

use crate::fieldpath::{PathElement, Set, render_path};
use crate::schema::FieldType;
use crate::typed;
use serde_json::{Map, Value, json};
use std::borrow::Cow;

/// One managedFields entry with its decoded field set.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Manager name.
    pub manager: String,
    /// `Apply` or `Update`.
    pub operation: String,
    /// API version of the entry.
    pub api_version: String,
    /// RFC 3339 time, if any.
    pub time: Option<String>,
    /// Subresource (`status`) or empty.
    pub subresource: String,
    /// Owned fields.
    pub set: Set,
}

impl Entry {
    /// Whether `self` has the identity (manager, operation, subresource, apiVersion-for-Update).
    pub fn same_identity(&self, other: &Entry) -> bool {
        self.manager == other.manager
            && self.operation == other.operation
            && self.subresource == other.subresource
            && (self.operation == "Apply" || self.api_version == other.api_version)
    }

    /// Manager as printed in conflict messages (`printManager`, managedfields `conflict.go`).
    pub fn printed(&self) -> String {
        let mut s = format!("{:?}", self.manager);
        if !self.subresource.is_empty() {
            s.push_str(&format!(" with subresource {:?}", self.subresource));
        }
        if self.operation == "Update" {
            s.push_str(&format!(" using {}", self.api_version));
        }
        s
    }

    fn sort_key(&self) -> (String, String, String, String, String) {
        (
            self.operation.clone(),
            self.time.clone().unwrap_or_default(),
            self.manager.clone(),
            self.api_version.clone(),
            self.subresource.clone(),
        )
    }
}

/// Reads `metadata.managedFields`. `Ok(None)` if absent; `Err` if undecodable (managedfields
/// `managedfields.go`).
pub fn decode(obj: &Value) -> Result<Option<Vec<Entry>>, String> {
    let Some(mf) = obj.get("metadata").and_then(|m| m.get("managedFields")) else {
        return Ok(None);
    };
    if mf.is_null() {
        return Ok(None);
    }
    let Value::Array(items) = mf else {
        return Err("managedFields is not a list".into());
    };
    let mut out = Vec::new();
    for it in items {
        let s = |k: &str| it.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        let op = s("operation");
        if op != "Apply" && op != "Update" {
            return Err(format!("operation must be `Apply` or `Update`, got {op:?}"));
        }
        if s("apiVersion").is_empty() {
            return Err("apiVersion must not be empty".into());
        }
        if s("fieldsType") != "FieldsV1" {
            return Err(format!("invalid fieldsType {:?}", s("fieldsType")));
        }
        let set = match it.get("fieldsV1") {
            Some(v) => Set::from_fields_v1(v).ok_or("invalid fieldsV1")?,
            None => Set::new(),
        };
        out.push(Entry {
            manager: s("manager"),
            operation: op,
            api_version: s("apiVersion"),
            time: it.get("time").and_then(Value::as_str).map(str::to_string),
            subresource: s("subresource"),
            set,
        });
    }
    Ok(Some(out))
}

/// Whether the list is exactly `[{}]`, the reset marker (managedfields `fieldmanager.go`).
pub fn is_reset(obj: &Value) -> bool {
    matches!(obj.get("metadata").and_then(|m| m.get("managedFields")),
        Some(Value::Array(a)) if a.len() == 1 && a[0].as_object().is_some_and(Map::is_empty))
}

/// Encodes entries sorted by operation, time, manager, apiVersion, subresource (managedfields
/// `managedfields.go`).
pub fn encode(entries: &[Entry]) -> Value {
    Value::Array(
        encoded_order(entries)
            .into_iter()
            .map(|e| {
                let mut m = Map::new();
                m.insert("manager".into(), json!(e.manager));
                m.insert("operation".into(), json!(e.operation));
                m.insert("apiVersion".into(), json!(e.api_version));
                if let Some(t) = &e.time {
                    m.insert("time".into(), json!(t));
                }
                m.insert("fieldsType".into(), json!("FieldsV1"));
                m.insert("fieldsV1".into(), e.set.to_fields_v1());
                if !e.subresource.is_empty() {
                    m.insert("subresource".into(), json!(e.subresource));
                }
                Value::Object(m)
            })
            .collect(),
    )
}

/// The entries [`encode`] writes, in its order.
fn encoded_order(entries: &[Entry]) -> Vec<&Entry> {
    let mut sorted: Vec<&Entry> = entries.iter().filter(|e| !e.set.is_empty()).collect();
    sorted.sort_by_key(|e| e.sort_key());
    sorted
}

/// Removes the never-owned paths (managedfields `stripmeta.go`).
pub fn strip(set: &Set) -> Set {
    let mut out = set.clone();
    strip_in_place(&mut out);
    out
}

/// Removes the never-owned paths (managedfields `stripmeta.go`) without copying the set.
pub fn strip_in_place(set: &mut Set) {
    for f in ["apiVersion", "kind", "metadata"] {
        set.remove_field_member(f);
    }
    set.edit_field_child("metadata", |m| {
        for f in [
            "name",
            "namespace",
            "creationTimestamp",
            "selfLink",
            "uid",
            "clusterName",
            "generation",
            "managedFields",
            "resourceVersion",
        ] {
            m.remove_field_member(f);
        }
    });
}

/// Conflicts of one apply (structured-merge-diff `merge.Updater.Apply`; managedfields
/// `conflict.go`).
#[derive(Debug, Clone)]
pub struct Conflicts {
    /// (printed manager, path) pairs in message order.
    pub items: Vec<(String, Vec<PathElement>)>,
}

impl Conflicts {
    /// The Status message (managedfields `conflict.go`).
    pub fn message(&self) -> String {
        if self.items.len() == 1 {
            let (m, p) = &self.items[0];
            return format!(
                "Apply failed with 1 conflict: conflict with {m}: {}",
                render_path(p)
            );
        }
        let mut lines: Vec<String> = Vec::new();
        let mut last: Option<&str> = None;
        for (m, p) in &self.items {
            if last != Some(m.as_str()) {
                lines.push(format!("conflicts with {m}:"));
                last = Some(m.as_str());
            }
            lines.push(format!("- {}", render_path(p)));
        }
        format!(
            "Apply failed with {} conflicts: {}",
            self.items.len(),
            lines.join("\n")
        )
    }

    /// The 409 Status body (managedfields `conflict.go`).
    pub fn to_error(&self) -> crate::status::ApiError {
        let causes: Vec<Value> = self
            .items
            .iter()
            .map(|(m, p)| {
                json!({"reason":"FieldManagerConflict","message":format!("conflict with {m}"),"field":render_path(p)})
            })
            .collect();
        let mut e = crate::status::ApiError::new(409, Some("Conflict"), &self.message());
        if let Value::Object(b) = &mut e.body {
            b.shift_remove("code");
            b.insert("details".into(), json!({ "causes": causes }));
            b.insert("code".into(), json!(409));
        }
        e
    }
}

/// Outcome of an apply.
pub struct ApplyOutcome {
    /// The merged and pruned object (before defaulting).
    pub object: Value,
    /// The new managedFields entries.
    pub entries: Vec<Entry>,
}

fn without_managed_fields(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(Value::Object(m)) = v.get_mut("metadata") {
        m.remove("managedFields");
    }
    v
}

/// Server-side apply of `config` by `manager` onto `live` (None = create) (SMD `Updater.Apply`).
/// A config handed over (`Cow::Owned`) to a create becomes the new object without a copy.
#[allow(clippy::too_many_arguments)]
pub fn apply(
    live: Option<&Value>,
    config: Cow<'_, Value>,
    ty: FieldType,
    mut entries: Vec<Entry>,
    manager: &str,
    api_version: &str,
    subresource: &str,
    force: bool,
    now: &str,
) -> Result<ApplyOutcome, Conflicts> {
    let live_obj = live.map_or_else(|| json!({}), without_managed_fields);
    // Merging into nothing gives a copy of the config: one handed over is used as it is.
    let (merged, config) = match (live, config) {
        (None, Cow::Owned(c)) => (c, None),
        (_, c) => (typed::merge(&live_obj, &c, ty), Some(c)),
    };
    let config: &Value = config.as_deref().unwrap_or(&merged);
    let me = Entry {
        manager: manager.into(),
        operation: "Apply".into(),
        api_version: api_version.into(),
        time: None,
        subresource: subresource.into(),
        set: Set::new(),
    };
    let pos = entries.iter().position(|e| e.same_identity(&me));
    let mut new_set = typed::to_field_set(config, ty);
    strip_in_place(&mut new_set);
    // prune (structured-merge-diff `merge.Updater.prune`) removes only what the applier applied
    // last time, no longer applies, and nobody owns: with none of that, nothing is pruned.
    let candidates = match pos {
        None => Set::new(),
        Some(p) => {
            let mut rest = entries[p].set.difference(&new_set);
            for (i, e) in entries.iter().enumerate() {
                if i != p && !rest.is_empty() {
                    rest = rest.difference(&e.set);
                }
            }
            rest
        }
    };
    // `merged` is kept when pruning, to take out the nulls it leaves once ownership is known.
    let (pruned, unpruned) = match pos {
        Some(p) if !candidates.is_empty() => {
            let applied = typed::to_field_set(config, ty);
            let pruned = prune(&merged, &entries, p, applied, ty);
            (pruned, Some(merged))
        }
        _ => (merged, None),
    };
    let stored = |pruned: Value| match &unpruned {
        Some(m) => typed::without_new_nulls(pruned, m, ty),
        None => pruned,
    };
    // Conflicts and the other managers' sets (structured-merge-diff `merge.Updater.Apply`) need
    // to know what changed; when this manager is the only one, nothing depends on it.
    let others = entries
        .iter()
        .enumerate()
        .any(|(i, e)| Some(i) != pos && !e.set.is_empty());
    if !others {
        let object_changed = pruned != live_obj;
        entries.retain(|e| e.same_identity(&me));
        return Ok(ApplyOutcome {
            object: stored(pruned),
            entries: own_entry(
                entries,
                pos.map(|_| 0),
                me,
                new_set,
                api_version,
                object_changed,
                now,
            ),
        });
    }
    let cmp = typed::compare(&live_obj, &pruned, ty);
    let changed = cmp.changed();
    let mut conflicts: Vec<(Entry, Set)> = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        if Some(i) == pos {
            continue;
        }
        let c = e.set.intersection(&changed);
        if !c.is_empty() {
            conflicts.push((e.clone(), c));
        }
    }
    if !conflicts.is_empty() && !force {
        conflicts.sort_by(|a, b| {
            (
                &a.0.manager,
                &a.0.operation,
                &a.0.api_version,
                &a.0.subresource,
            )
                .cmp(&(
                    &b.0.manager,
                    &b.0.operation,
                    &b.0.api_version,
                    &b.0.subresource,
                ))
        });
        let mut items = Vec::new();
        for (e, s) in conflicts {
            for p in s.paths() {
                items.push((e.printed(), p));
            }
        }
        return Err(Conflicts { items });
    }
    let object_changed = pruned != live_obj;
    for (i, e) in entries.iter_mut().enumerate() {
        if Some(i) == pos {
            continue;
        }
        e.set = e.set.difference(&changed).difference(&cmp.removed);
    }
    Ok(ApplyOutcome {
        object: stored(pruned),
        entries: own_entry(entries, pos, me, new_set, api_version, object_changed, now),
    })
}

/// structured-merge-diff `merge.Updater.prune` with `addBackOwnedItems` and
/// `addBackDanglingItems`: removes from `merged` what the applier (entry `pos`) applied last
/// time, no longer applies and no other manager owns. Each step widens its set with
/// [`typed::ensure_named_fields`], so a struct field whose last entry goes goes with it
/// (labels, a container's env). The applier's new set is taken unstripped, as the updater
/// sees it before managedfields `stripmeta.go` trims it.
fn prune(merged: &Value, entries: &[Entry], pos: usize, applied: Set, ty: FieldType) -> Value {
    let named = |s: &Set| typed::ensure_named_fields(s, ty);
    let last = named(&entries[pos].set);
    let mut managed = applied;
    for (i, e) in entries.iter().enumerate() {
        if i != pos {
            managed = managed.union(&e.set);
        }
    }
    let merged_set = named(&typed::to_field_set(merged, ty));
    let first = typed::remove_items(merged, &last, ty);
    let unowned =
        merged_set.difference(&named(&typed::to_field_set(&first, ty)).union(&named(&managed)));
    let owned_back = typed::remove_items(merged, &unowned, ty);
    let dangling = merged_set
        .difference(&named(&typed::to_field_set(&owned_back, ty)))
        .intersection(&last);
    if dangling.is_empty() {
        merged.clone()
    } else {
        typed::remove_items(merged, &dangling, ty)
    }
}

/// `entries` with the applier's own entry (at `pos`, or new) holding `set`; its time moves only
/// when the object changed or it had none (structured-merge-diff `merge.Updater`;
/// `IgnoreManagedFieldsTimestampsTransformer`). Empty entries are dropped.
fn own_entry(
    mut entries: Vec<Entry>,
    pos: Option<usize>,
    me: Entry,
    set: Set,
    api_version: &str,
    object_changed: bool,
    now: &str,
) -> Vec<Entry> {
    match pos {
        Some(i) => {
            entries[i].set = set;
            entries[i].api_version = api_version.into();
            if object_changed || entries[i].time.is_none() {
                entries[i].time = Some(now.into());
            }
        }
        None => entries.push(Entry {
            time: Some(now.into()),
            set,
            ..me
        }),
    }
    entries.retain(|e| !e.set.is_empty());
    entries
}

/// Ownership after a non-apply write (SMD `Updater.Update` via managedFieldsUpdater,
/// structured-merge-diff `merge.Updater.Update`).
#[allow(clippy::too_many_arguments)]
pub fn update(
    live: &Value,
    new: &Value,
    ty: FieldType,
    mut entries: Vec<Entry>,
    manager: &str,
    api_version: &str,
    subresource: &str,
    now: &str,
) -> Vec<Entry> {
    let cmp = typed::compare(
        &without_managed_fields(live),
        &without_managed_fields(new),
        ty,
    );
    let mut changed = cmp.changed();
    strip_in_place(&mut changed);
    let removed = cmp.removed;
    for e in entries.iter_mut() {
        e.set = e.set.difference(&changed).difference(&removed);
    }
    let me = Entry {
        manager: manager.into(),
        operation: "Update".into(),
        api_version: api_version.into(),
        time: Some(now.into()),
        subresource: subresource.into(),
        set: changed.clone(),
    };
    if !changed.is_empty() {
        match entries.iter_mut().find(|e| e.same_identity(&me)) {
            Some(e) => {
                e.set = e.set.union(&changed);
                e.time = Some(now.into());
            }
            None => entries.push(me),
        }
    }
    entries.retain(|e| !e.set.is_empty());
    cap_update_managers(entries)
}

/// Most `Update` entries kept before the oldest are merged into `ancient-changes` (managedfields
/// `capmanagers.go`).
pub const MAX_UPDATE_MANAGERS: usize = 10;

/// Merges the oldest `Update` entries into per-apiVersion `ancient-changes` buckets
/// (capmanagers.go).
fn cap_update_managers(mut entries: Vec<Entry>) -> Vec<Entry> {
    let mut updaters: Vec<usize> = (0..entries.len())
        .filter(|&i| entries[i].operation == "Update")
        .collect();
    if updaters.len() <= MAX_UPDATE_MANAGERS {
        return entries;
    }
    updaters.sort_by(|a, b| entries[*a].time.cmp(&entries[*b].time));
    let mut length = updaters.len();
    let mut first_of_version: Vec<(String, usize)> = Vec::new();
    let mut remove: Vec<usize> = Vec::new();
    for &i in &updaters {
        if length <= MAX_UPDATE_MANAGERS {
            break;
        }
        let version = entries[i].api_version.clone();
        match first_of_version
            .iter()
            .find(|(v, _)| *v == version)
            .map(|(_, f)| *f)
        {
            Some(bucket) => {
                let set = entries[i].set.clone();
                let time = entries[i].time.clone();
                let b = &mut entries[bucket];
                b.manager = "ancient-changes".into();
                b.subresource = String::new();
                b.set = b.set.union(&set);
                b.time = time;
                remove.push(i);
                length -= 1;
            }
            None => first_of_version.push((version, i)),
        }
    }
    let mut idx = 0;
    entries.retain(|_| {
        let keep = !remove.contains(&idx);
        idx += 1;
        keep
    });
    entries
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A create given its config (no copy) gives the object and entries it gives when the config is
    /// borrowed and merged into nothing. Upstream: structured-merge-diff `typed/tofieldset.go`;
    /// `+listType`/`+listMapKey`/`+mapType` markers of `k8s.io/api`.
    #[test]
    fn create_with_config_handed_over_equals_merged_copy() {
        let mut cases = crate::typed::tests::edge_objects();
        cases.push((
            "Secret",
            json!({"metadata":{"name":"s"},"stringData":{"a":"b"}}),
        ));
        for (kind, cfg) in cases {
            let kind = crate::resources::by_kind(kind).map_or("Deployment", |r| r.kind);
            let ty = crate::schema::root(kind);
            let run = |c: Cow<'_, Value>| {
                apply(
                    None,
                    c,
                    ty,
                    Vec::new(),
                    "m",
                    "v1",
                    "",
                    false,
                    "2025-01-01T00:00:00Z",
                )
                .map(|o| (o.object.to_string(), encode(&o.entries).to_string()))
                .map_err(|c| c.message())
            };
            assert_eq!(
                run(Cow::Owned(cfg.clone())),
                run(Cow::Borrowed(&cfg)),
                "{cfg}"
            );
        }
    }

    /// More than ten Update managers are merged, oldest first, into ancient-changes.
    /// Upstream: managedfields `capmanagers.go`.
    #[test]
    fn update_managers_capped() {
        let ty = crate::schema::root("ConfigMap");
        let mut obj =
            json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"data":{}});
        let mut entries = Vec::new();
        for i in 0..12 {
            let mut new = obj.clone();
            new["data"][format!("k{i}")] = json!("v");
            let t = format!("2025-01-01T00:00:{i:02}Z");
            entries = update(&obj, &new, ty, entries, &format!("m{i}"), "v1", "", &t);
            obj = new;
        }
        let names: Vec<&str> = entries.iter().map(|e| e.manager.as_str()).collect();
        assert_eq!(entries.len(), MAX_UPDATE_MANAGERS);
        assert!(names.contains(&"ancient-changes"), "{names:?}");
        assert!(!names.contains(&"m0") && !names.contains(&"m1") && !names.contains(&"m2"));
        let ancient = entries
            .iter()
            .find(|e| e.manager == "ancient-changes")
            .map(|e| e.set.paths().len());
        assert_eq!(ancient, Some(3));
    }
}
