//! Schema-driven operations on JSON values, ported from structured-merge-diff: field sets
//! (`typed/tofieldset.go`), comparison (`typed/compare.go`), merge (`typed/merge.go`) and item
//! removal (`typed/remove.go`).

use crate::fieldpath::{Level, PathElement, Set};
use crate::schema::{self, FieldType, StructType};
use serde_json::{Map, Value};

/// How a node is treated, after looking at both schema and value shape.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Class {
    Leaf,
    Map(Option<StructType>),
    List(FieldType),
}

/// Effective type of a node whose schema type is `ty` (None = undeclared/deduced).
fn class(ty: Option<FieldType>, vals: &[Option<&Value>]) -> Class {
    let shape_obj = vals.iter().flatten().all(|v| v.is_object() || v.is_null());
    let shape_arr = vals.iter().flatten().all(|v| v.is_array() || v.is_null());
    let any_obj = vals.iter().flatten().any(|v| v.is_object());
    let any_arr = vals.iter().flatten().any(|v| v.is_array());
    match ty {
        None => {
            if any_obj && shape_obj {
                Class::Map(Some(StructType::Generic))
            } else {
                Class::Leaf
            }
        }
        Some(FieldType::Struct(struct_type)) if shape_obj => Class::Map(Some(struct_type)),
        Some(FieldType::FreeMap) if shape_obj => Class::Map(None),
        Some(t @ (FieldType::ListSet | FieldType::ListMap { .. })) if shape_arr => Class::List(t),
        _ => {
            let _ = (any_arr, any_obj);
            Class::Leaf
        }
    }
}

/// Child type of a map entry.
fn child_type_of(struct_type: Option<StructType>, key: &str) -> Option<FieldType> {
    match struct_type {
        Some(struct_type) => schema::field(struct_type, key),
        None => None,
    }
}

/// Item element type of a granular list.
fn item_type(t: FieldType) -> Option<FieldType> {
    match t {
        FieldType::ListMap {
            elem, atomic_elem, ..
        } => {
            if atomic_elem {
                Some(FieldType::Atomic)
            } else {
                Some(FieldType::Struct(elem))
            }
        }
        _ => Some(FieldType::Atomic),
    }
}

/// The path element of a list item (structured-merge-diff `typed/helpers.go`: defaulted keys are
/// used for identity).
pub fn item_pe(t: FieldType, item: &Value, index: usize) -> PathElement {
    match t {
        FieldType::ListSet => PathElement::Val(item.clone()),
        FieldType::ListMap { keys, .. } => {
            let Value::Object(m) = item else {
                return PathElement::Index(index);
            };
            let mut kv: Vec<(String, Value)> = Vec::new();
            for k in keys {
                match m.get(*k) {
                    Some(v) if !v.is_null() => kv.push(((*k).to_string(), v.clone())),
                    _ => {
                        if let Some(d) = schema::key_default(keys, k) {
                            kv.push(((*k).to_string(), Value::String(d.to_string())));
                        }
                    }
                }
            }
            if kv.is_empty() {
                return PathElement::Index(index);
            }
            kv.sort_by(|a, b| a.0.cmp(&b.0));
            PathElement::Key(kv)
        }
        _ => PathElement::Index(index),
    }
}

/// Error for a keyed list holding two items with the same key (managedfields `structuredmerge.go`;
/// kubernetes#113482).
#[derive(Debug, Clone)]
pub struct DuplicateKey {
    /// Path of the list plus the duplicate element.
    pub path: Vec<PathElement>,
}

/// Checks keyed lists/sets for duplicate entries.
pub fn check_duplicates(v: &Value, ty: FieldType) -> Result<(), DuplicateKey> {
    /// Walks without a path; on an error, each level adds its element on the way out (so the
    /// path is built backwards, and only when there is an error).
    fn walk(v: &Value, ty: Option<FieldType>) -> Result<(), DuplicateKey> {
        match class(ty, &[Some(v)]) {
            Class::Leaf => Ok(()),
            Class::Map(struct_type) => {
                if let Value::Object(m) = v {
                    for (k, c) in m {
                        walk(c, child_type_of(struct_type, k)).map_err(|mut e| {
                            e.path.push(PathElement::Field(k.clone()));
                            e
                        })?;
                    }
                }
                Ok(())
            }
            Class::List(t) => {
                if let Value::Array(items) = v {
                    let elements: Vec<PathElement> = items
                        .iter()
                        .enumerate()
                        .map(|(i, it)| item_pe(t, it, i))
                        .collect();
                    // An item is a duplicate when an earlier one is equal: for a long list,
                    // found by numbering equality classes (one sort), not by comparing pairs.
                    let first: Option<(Vec<usize>, Vec<usize>)> =
                        (elements.len() > 16).then(|| {
                            let (class, _, n) = equality_classes(&elements, &[]);
                            let mut first = vec![usize::MAX; n];
                            for (i, &c) in class.iter().enumerate().rev() {
                                first[c] = i;
                            }
                            (class, first)
                        });
                    for (i, (it, element)) in items.iter().zip(&elements).enumerate() {
                        let earlier = match &first {
                            Some((class, first)) => first[class[i]] != i,
                            None => elements[..i].contains(element),
                        };
                        if earlier {
                            return Err(DuplicateKey {
                                path: vec![element.clone()],
                            });
                        }
                        walk(it, item_type(t)).map_err(|mut e| {
                            e.path.push(element.clone());
                            e
                        })?;
                    }
                }
                Ok(())
            }
        }
    }
    walk(v, Some(ty)).map_err(|mut e| {
        e.path.reverse();
        e
    })
}

/// The set of fields a config mentions (SMD `ToFieldSet`, structured-merge-diff
/// `typed/tofieldset.go`).
pub fn to_field_set(v: &Value, ty: FieldType) -> Set {
    field_set_of(v, Some(ty)).1
}

/// Whether `v` is a leaf (so its own path is a member), and the set of paths below `v`. Each
/// level is built once from its children's sets, so no path prefix is cloned or looked up.
fn field_set_of(v: &Value, ty: Option<FieldType>) -> (bool, Set) {
    match class(ty, &[Some(v)]) {
        Class::Leaf => (true, Set::new()),
        Class::Map(struct_type) => {
            let Value::Object(m) = v else {
                return (false, Set::new());
            };
            let mut level = Level::with_capacity(m.len());
            for (k, c) in m {
                let (leaf, below) = field_set_of(c, child_type_of(struct_type, k));
                let empty = c.is_null() || c.as_object().is_some_and(Map::is_empty);
                level.push(
                    PathElement::Field(k.clone()),
                    leaf || empty || struct_type.is_none(),
                    below,
                );
            }
            (false, level.finish())
        }
        Class::List(t) => {
            let Value::Array(items) = v else {
                return (false, Set::new());
            };
            let mut level = Level::with_capacity(items.len());
            for (i, it) in items.iter().enumerate() {
                let (_, below) = field_set_of(it, item_type(t));
                level.push(item_pe(t, it, i), true, below);
            }
            (false, level.finish())
        }
    }
}

/// Result of comparing two objects: added, removed and modified paths.
#[derive(Debug, Default, Clone)]
pub struct Comparison {
    /// Paths only in the new object (new nodes themselves included).
    pub added: Set,
    /// Paths only in the old object.
    pub removed: Set,
    /// Leaves whose value changed.
    pub modified: Set,
}

impl Comparison {
    /// Added ∪ modified.
    pub fn changed(&self) -> Set {
        self.added.union(&self.modified)
    }
}

/// Compares `lhs` (old) with `rhs` (new) (SMD `Compare`).
pub fn compare(lhs: &Value, rhs: &Value, ty: FieldType) -> Comparison {
    compare_node(Some(lhs), Some(rhs), Some(ty)).1
}

/// Where a compared node's own path goes: added, removed or modified (or nowhere).
#[derive(Clone, Copy, Default)]
struct OwnChange {
    added: bool,
    removed: bool,
    modified: bool,
}

/// The three sets of one level, built from its children's (see [`field_set_of`]).
struct Levels {
    added: Level,
    removed: Level,
    modified: Level,
}

impl Levels {
    fn with_capacity(n: usize) -> Self {
        Self {
            added: Level::with_capacity(n),
            removed: Level::with_capacity(n),
            modified: Level::with_capacity(n),
        }
    }

    fn push(&mut self, element: PathElement, (own, below): (OwnChange, Comparison)) {
        self.added.push(element.clone(), own.added, below.added);
        self.removed
            .push(element.clone(), own.removed, below.removed);
        self.modified.push(element, own.modified, below.modified);
    }

    fn finish(self) -> Comparison {
        Comparison {
            added: self.added.finish(),
            removed: self.removed.finish(),
            modified: self.modified.finish(),
        }
    }
}

/// Where the node's own path goes, and the comparison of what is below it.
fn compare_node(
    lhs: Option<&Value>,
    rhs: Option<&Value>,
    ty: Option<FieldType>,
) -> (OwnChange, Comparison) {
    if lhs.is_none() && rhs.is_none() {
        return Default::default();
    }
    let below = match class(ty, &[lhs, rhs]) {
        Class::Leaf => {
            let own = match (lhs, rhs) {
                (None, Some(_)) => OwnChange {
                    added: true,
                    ..OwnChange::default()
                },
                (Some(_), None) => OwnChange {
                    removed: true,
                    ..OwnChange::default()
                },
                (Some(a), Some(b)) if a != b => OwnChange {
                    modified: true,
                    ..OwnChange::default()
                },
                _ => OwnChange::default(),
            };
            return (own, Comparison::default());
        }
        Class::Map(struct_type) => {
            let empty = Map::new();
            let lm = lhs.and_then(Value::as_object).unwrap_or(&empty);
            let rm = rhs.and_then(Value::as_object).unwrap_or(&empty);
            let mut levels = Levels::with_capacity(rm.len());
            for (k, rv) in rm {
                let below = compare_node(lm.get(k), Some(rv), child_type_of(struct_type, k));
                levels.push(PathElement::Field(k.clone()), below);
            }
            for (k, lv) in lm {
                if !rm.contains_key(k) {
                    let below = compare_node(Some(lv), None, child_type_of(struct_type, k));
                    levels.push(PathElement::Field(k.clone()), below);
                }
            }
            levels.finish()
        }
        Class::List(t) => {
            let empty = Vec::new();
            let la = lhs.and_then(Value::as_array).unwrap_or(&empty);
            let ra = rhs.and_then(Value::as_array).unwrap_or(&empty);
            let left_elements: Vec<PathElement> = la
                .iter()
                .enumerate()
                .map(|(i, v)| item_pe(t, v, i))
                .collect();
            let right_elements: Vec<PathElement> = ra
                .iter()
                .enumerate()
                .map(|(i, v)| item_pe(t, v, i))
                .collect();
            let mut levels = Levels::with_capacity(ra.len());
            for (i, rv) in ra.iter().enumerate() {
                let l = left_elements
                    .iter()
                    .position(|p| *p == right_elements[i])
                    .map(|j| &la[j]);
                levels.push(
                    right_elements[i].clone(),
                    compare_node(l, Some(rv), item_type(t)),
                );
            }
            for (j, lv) in la.iter().enumerate() {
                if !right_elements.contains(&left_elements[j]) {
                    levels.push(
                        left_elements[j].clone(),
                        compare_node(Some(lv), None, item_type(t)),
                    );
                }
            }
            levels.finish()
        }
    };
    let own = OwnChange {
        added: lhs.is_none(),
        removed: lhs.is_some() && rhs.is_none(),
        modified: false,
    };
    (own, below)
}

/// Merges an applied config into the live object; the config wins (SMD `Merge`,
/// `+listType`/`+listMapKey`/`+mapType` markers of `k8s.io/api`).
pub fn merge(lhs: &Value, rhs: &Value, ty: FieldType) -> Value {
    merge_node(lhs, rhs, Some(ty))
}

fn merge_node(lhs: &Value, rhs: &Value, ty: Option<FieldType>) -> Value {
    if !(lhs.is_object() && rhs.is_object() || lhs.is_array() && rhs.is_array()) {
        return rhs.clone();
    }
    match class(ty, &[Some(lhs), Some(rhs)]) {
        Class::Leaf => rhs.clone(),
        Class::Map(struct_type) => {
            let (Value::Object(lm), Value::Object(rm)) = (lhs, rhs) else {
                return rhs.clone();
            };
            merge_map(lm.iter(), lm.len(), |k| lm.contains_key(k), rm, struct_type)
        }
        Class::List(t) => {
            let (Value::Array(la), Value::Array(ra)) = (lhs, rhs) else {
                return rhs.clone();
            };
            Value::Array(merge_list(la, ra, t))
        }
    }
}

/// The map merge of [`merge_node`], over the live entries `lm` (`lm_has` says whether a key is
/// one).
fn merge_map<'a>(
    lm: impl Iterator<Item = (&'a String, &'a Value)>,
    lm_len: usize,
    lm_has: impl Fn(&str) -> bool,
    rm: &Map<String, Value>,
    struct_type: Option<StructType>,
) -> Value {
    let mut out = Map::with_capacity(lm_len + rm.len());
    for (k, lv) in lm {
        let v = match rm.get(k) {
            Some(rv) => merge_node(lv, rv, child_type_of(struct_type, k)),
            None => lv.clone(),
        };
        out.insert(k.clone(), v);
    }
    for (k, rv) in rm {
        if !lm_has(k) {
            out.insert(k.clone(), rv.clone());
        }
    }
    Value::Object(out)
}

/// The SMD list merge ordering: shared items follow the config's order, live-only items stay
/// near their position, config-only items are inserted where the config has them.
///
/// Items are told apart by their path elements; each element gets the number of its
/// equality class once (by sorting), so the walk compares numbers, not elements.
fn merge_list(la: &[Value], ra: &[Value], t: FieldType) -> Vec<Value> {
    let left_elements: Vec<PathElement> = la
        .iter()
        .enumerate()
        .map(|(i, v)| item_pe(t, v, i))
        .collect();
    let right_elements: Vec<PathElement> = ra
        .iter()
        .enumerate()
        .map(|(i, v)| item_pe(t, v, i))
        .collect();
    let (lid, rid, classes) = equality_classes(&left_elements, &right_elements);
    // The first item of each class in each list.
    let mut first_l: Vec<Option<usize>> = vec![None; classes];
    let mut first_r: Vec<Option<usize>> = vec![None; classes];
    for (i, &c) in lid.iter().enumerate().rev() {
        first_l[c] = Some(i);
    }
    for (i, &c) in rid.iter().enumerate().rev() {
        first_r[c] = Some(i);
    }
    let shared: Vec<usize> = rid
        .iter()
        .copied()
        .filter(|&c| first_l[c].is_some())
        .collect();
    let mut shared_i = 0usize;
    let mut merged_r = vec![false; classes];
    let mut out = Vec::with_capacity(la.len() + ra.len());
    let (mut li, mut ri) = (0usize, 0usize);
    let elem = item_type(t);
    let merge_item = |c: usize| -> Value {
        match (first_l[c].map(|j| &la[j]), first_r[c].map(|j| &ra[j])) {
            (Some(l), Some(r)) => merge_node(l, r, elem),
            (None, Some(r)) => r.clone(),
            (Some(l), None) => l.clone(),
            (None, None) => Value::Null,
        }
    };
    while li < lid.len() || ri < rid.len() {
        if li < lid.len() && ri < rid.len() {
            let c = lid[li];
            if c == rid[ri] {
                merged_r[c] = true;
                out.push(merge_item(c));
                li += 1;
                ri += 1;
                if shared.get(shared_i) == Some(&c) {
                    shared_i += 1;
                }
                continue;
            }
            if first_r[c].is_some() && shared.get(shared_i).is_some_and(|&s| s != c) {
                li += 1;
                continue;
            }
        }
        if li < lid.len() {
            let c = lid[li];
            if first_r[c].is_none() {
                out.push(la[li].clone());
                li += 1;
                continue;
            } else if merged_r[c] {
                li += 1;
                continue;
            }
        }
        if ri < rid.len() {
            let c = rid[ri];
            merged_r[c] = true;
            out.push(merge_item(c));
            ri += 1;
            if shared.get(shared_i) == Some(&c) {
                shared_i += 1;
            }
        }
    }
    out
}

/// Numbers the equality classes of the elements of two lists: equal elements (as `==` sees
/// them) get the same number. Returns each list's numbers and how many classes there are.
fn equality_classes(l: &[PathElement], r: &[PathElement]) -> (Vec<usize>, Vec<usize>, usize) {
    let all: Vec<&PathElement> = l.iter().chain(r).collect();
    let mut order: Vec<usize> = (0..all.len()).collect();
    order.sort_by(|&a, &b| all[a].cmp(all[b]));
    let mut id = vec![0usize; all.len()];
    let mut classes = 0;
    for (k, &i) in order.iter().enumerate() {
        if k > 0 && all[order[k - 1]] != all[i] {
            classes += 1;
        }
        id[i] = classes;
    }
    let r_ids = id.split_off(l.len());
    (id, r_ids, if all.is_empty() { 0 } else { classes + 1 })
}

/// `set` with the struct fields that have paths below them made members: what
/// structured-merge-diff's `Set.EnsureNamedFieldsAreMembers` adds before it removes items, so
/// that pruning a field's last entry removes the field itself.
pub fn ensure_named_fields(set: &Set, ty: FieldType) -> Set {
    set.ensure_named_fields_are_members(Some(ty), &|t: Option<FieldType>, pe: &PathElement| {
        match (t, pe) {
            (Some(FieldType::Struct(st)), PathElement::Field(name)) => {
                (true, schema::field(st, name))
            }
            // An undeclared object with children is a struct whose fields are undeclared.
            (None, PathElement::Field(name)) => (true, schema::field(StructType::Generic, name)),
            (Some(t @ (FieldType::ListSet | FieldType::ListMap { .. })), _) => {
                (false, item_type(t))
            }
            _ => (false, None),
        }
    })
}

/// Removes every member path of `set` (whole subtrees) from `v` (SMD `RemoveItems`). A map or
/// list that loses all its entries becomes null, as in structured-merge-diff's
/// `typed/remove.go` (a null field is a member of a field set, an empty list is not);
/// [`without_new_nulls`] takes them out of the object that is stored.
pub fn remove_items(v: &Value, set: &Set, ty: FieldType) -> Value {
    remove_node(v, set, Some(ty))
}

/// `v` without the null members that `before` had as values: the nulls [`remove_items`] left
/// where it emptied a map or list. kube-apiserver decodes the merged object into its Go type,
/// where they are absent (`omitempty`).
pub fn without_new_nulls(v: Value, before: &Value, ty: FieldType) -> Value {
    strip_new_nulls(v, before, Some(ty))
}

fn strip_new_nulls(v: Value, before: &Value, ty: Option<FieldType>) -> Value {
    match (v, class(ty, &[Some(before)])) {
        (Value::Object(m), Class::Map(struct_type)) => Value::Object(
            m.into_iter()
                .filter_map(|(k, c)| match before.get(&k) {
                    Some(b) if c.is_null() && !b.is_null() => None,
                    Some(b) => {
                        let t = child_type_of(struct_type, &k);
                        Some((k, strip_new_nulls(c, b, t)))
                    }
                    None => Some((k, c)),
                })
                .collect(),
        ),
        (Value::Array(items), Class::List(t)) => {
            let Value::Array(old) = before else {
                return Value::Array(items);
            };
            let old_pes: Vec<PathElement> = old
                .iter()
                .enumerate()
                .map(|(i, o)| item_pe(t, o, i))
                .collect();
            Value::Array(
                items
                    .into_iter()
                    .enumerate()
                    .map(|(i, it)| {
                        let pe = item_pe(t, &it, i);
                        match old_pes.iter().position(|p| *p == pe) {
                            Some(j) => strip_new_nulls(it, &old[j], item_type(t)),
                            None => it,
                        }
                    })
                    .collect(),
            )
        }
        (v, _) => v,
    }
}

/// A map or list emptied by [`remove_node`] is null (structured-merge-diff `typed/remove.go`).
fn emptied(v: Value) -> Value {
    match &v {
        Value::Object(m) if m.is_empty() => Value::Null,
        Value::Array(a) if a.is_empty() => Value::Null,
        _ => v,
    }
}

fn remove_node(v: &Value, set: &Set, ty: Option<FieldType>) -> Value {
    match class(ty, &[Some(v)]) {
        Class::Leaf => v.clone(),
        Class::Map(struct_type) => {
            let Value::Object(m) = v else {
                return v.clone();
            };
            let mut out = Map::new();
            for (k, c) in m {
                let element = PathElement::Field(k.clone());
                if set.is_member(&element) {
                    continue;
                }
                match set.child(&element) {
                    Some(sub) => {
                        out.insert(
                            k.clone(),
                            emptied(remove_node(c, sub, child_type_of(struct_type, k))),
                        );
                    }
                    None => {
                        out.insert(k.clone(), c.clone());
                    }
                }
            }
            Value::Object(out)
        }
        Class::List(t) => {
            let Value::Array(items) = v else {
                return v.clone();
            };
            let mut out = Vec::new();
            for (i, it) in items.iter().enumerate() {
                let element = item_pe(t, it, i);
                if set.is_member(&element) {
                    continue;
                }
                match set.child(&element) {
                    Some(sub) => out.push(emptied(remove_node(it, sub, item_type(t)))),
                    None => out.push(it.clone()),
                }
            }
            Value::Array(out)
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;

    /// The applier's field set of the Deployment kubectl sends for `kubectl apply --server-side`.
    /// Upstream: structured-merge-diff `typed/tofieldset.go`; structured-merge-diff
    /// `typed/helpers.go`.
    #[test]
    fn field_set_of_applied_deployment() {
        let cfg = json!({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},
            "spec":{"replicas":1,"selector":{"matchLabels":{"app":"web"}},
            "template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[
              {"name":"nginx","image":"nginx","ports":[{"containerPort":80}]}]}}}});
        let s = to_field_set(&cfg, schema::root("Deployment"));
        let enc = s.to_fields_v1();
        let ports = &enc["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"nginx\"}"]
            ["f:ports"]["k:{\"containerPort\":80,\"protocol\":\"TCP\"}"];
        assert_eq!(ports, &json!({".":{},"f:containerPort":{}}));
        assert_eq!(enc["f:spec"]["f:selector"], json!({}));
        assert_eq!(
            enc["f:spec"]["f:template"]["f:metadata"]["f:labels"],
            json!({"f:app":{}})
        );
    }

    /// Objects that exercise every schema case: keyed lists (one key, two keys with a
    /// defaulted `protocol`, atomic items), sets, duplicates, items without keys or that are
    /// not objects, free-form and atomic maps, nulls, empty maps and lists, and shapes that
    /// disagree with the schema.
    pub(crate) fn edge_objects() -> Vec<(&'static str, Value)> {
        vec![
            (
                "Deployment",
                json!({"apiVersion":"apps/v1","kind":"Deployment",
              "metadata":{"name":"w","labels":{"a":"1","z":{"nested":true},"b":null},
                "annotations":{},"finalizers":["x","y","x",{"o":1},3,null],
                "ownerReferences":[{"uid":"u1","name":"a"},{"name":"no-uid"},{"uid":"u1","kind":"dup"},"s"]},
              "spec":{"replicas":null,"selector":{"matchLabels":{"a":"1"}},"strategy":{},
                "template":{"metadata":{"labels":{"a":"1"}},"spec":{
                  "containers":[
                    {"name":"c","image":"i","ports":[{"containerPort":80},{"containerPort":80,"protocol":"UDP"},
                      {"containerPort":80,"protocol":"TCP","name":"dup"},{"name":"nokey"}],
                     "env":[{"name":"B","value":"1"},{"name":"A","valueFrom":{"secretKeyRef":{"name":"s","key":"k"}}},
                       {"name":"B","value":"2"}],
                     "resources":{"limits":{"cpu":"1"},"requests":{}},"args":["a","b"],
                     "volumeMounts":[{"mountPath":"/a","name":"v"}]},
                    {"name":"c","image":"again","env":[{"name":"C"}]},
                    {"image":"nameless"},
                    "not-an-object"],
                  "volumes":[{"name":"v","emptyDir":{}},{"name":"v","configMap":{"name":"x"}}],
                  "tolerations":[{"key":"k"}],
                  "nodeSelector":{"k":"v"},
                  "topologySpreadConstraints":[{"topologyKey":"t","whenUnsatisfiable":"DoNotSchedule","maxSkew":1}],
                  "imagePullSecrets":[],
                  "hostAliases":[{"ip":"1.2.3.4","hostnames":["a"]}]}}}}),
            ),
            (
                "Deployment",
                json!({"spec":{"template":{"spec":{"containers":{"not":"a list"}}}},
              "metadata":["not","a","map"], "status":{"x":[1,2]}}),
            ),
            (
                "Deployment",
                json!({"spec":{"template":{"spec":{"containers":[]}}}, "metadata":{}}),
            ),
            ("Deployment", json!("a string root")),
            ("Deployment", json!({})),
            (
                "Service",
                json!({"apiVersion":"v1","kind":"Service","metadata":{"name":"s"},
              "spec":{"selector":{"a":"1"},"ports":[{"port":80,"targetPort":8080},{"port":80,"protocol":"UDP"}],
                "type":"ClusterIP","clusterIPs":["10.0.0.1"]}}),
            ),
            (
                "ConfigMap",
                json!({"metadata":{"name":"c"},"data":{"a":"1","b":""},"binaryData":{}}),
            ),
            (
                "CronJob",
                json!({"spec":{"schedule":"* * * * *","jobTemplate":{"metadata":{"labels":{"x":"y"}},
              "spec":{"template":{"spec":{"containers":[{"name":"j","ports":[{"containerPort":1.5}]}]}}}}}}),
            ),
            (
                "Ingress",
                json!({"spec":{"rules":[{"host":"a"}],"tls":[{"hosts":["a"]}],
              "defaultBackend":{"service":{"name":"s","port":{"number":80}}}}}),
            ),
            (
                "NetworkPolicy",
                json!({"spec":{"podSelector":{},"ingress":[{"from":[]}],"policyTypes":["Ingress"]}}),
            ),
            (
                "PersistentVolumeClaim",
                json!({"spec":{"accessModes":["ReadWriteOnce","ReadWriteOnce"],
              "resources":{"requests":{"storage":"1Gi"}}}}),
            ),
        ]
    }

    /// The first duplicate key is reported with its path; keys that differ only in a
    /// defaulted field (`protocol`) are duplicates, different protocols are not.
    #[test]
    fn first_duplicate_key_and_its_path() {
        let ty = schema::root("Deployment");
        let first = |obj: Value| {
            check_duplicates(&obj, ty)
                .err()
                .map(|d| crate::fieldpath::render_path(&d.path))
        };
        assert_eq!(
            first(json!({"spec":{"template":{"spec":{"containers":[
                {"name":"c","env":[{"name":"A"},{"name":"B"},{"name":"A"}]},{"name":"c"}]}}}})),
            Some(r#".spec.template.spec.containers[name="c"].env[name="A"]"#.into())
        );
        assert_eq!(
            first(
                json!({"metadata":{"finalizers":["x","y","x"]},"spec":{"template":{"spec":{
                "containers":[{"name":"c","ports":[{"containerPort":80},
                {"containerPort":80,"protocol":"TCP"}]}]}}}})
            ),
            Some(r#".metadata.finalizers[="x"]"#.into())
        );
        assert_eq!(
            first(
                json!({"spec":{"template":{"spec":{"containers":[{"name":"c","ports":[
                {"containerPort":80},{"containerPort":80,"protocol":"UDP"}]}]}}}})
            ),
            None
        );
    }

    /// A comparison sorts nodes into added, removed and modified, keyed list items by key.
    #[test]
    fn compare_added_removed_modified() {
        let a = json!({"spec":{"template":{"spec":{"containers":[
            {"name":"a","image":"1","env":[{"name":"E","value":"1"}]},{"name":"b"}]}}}});
        let b = json!({"spec":{"replicas":2,"template":{"spec":{"containers":[
            {"name":"a","image":"2"},{"name":"c","image":"3"}]}}}});
        let c = compare(&a, &b, schema::root("Deployment"));
        let containers = |v: Value| json!({"f:spec":{"f:template":{"f:spec":{"f:containers":v}}}});
        let mut added = containers(json!({"k:{\"name\":\"c\"}":{".":{},"f:image":{},"f:name":{}}}));
        added["f:spec"]["f:replicas"] = json!({});
        assert_eq!(c.added.to_fields_v1(), added);
        assert_eq!(
            c.removed.to_fields_v1(),
            containers(json!({
                "k:{\"name\":\"a\"}":{"f:env":{".":{},"k:{\"name\":\"E\"}":{".":{},"f:name":{},"f:value":{}}}},
                "k:{\"name\":\"b\"}":{".":{},"f:name":{}}}))
        );
        assert_eq!(
            c.modified.to_fields_v1(),
            containers(json!({"k:{\"name\":\"a\"}":{"f:image":{}}}))
        );
    }

    /// Merging lists: the config's items in its order, live items it does not mention kept
    /// after them, repeated keys in the live list merged into one item.
    #[test]
    fn merge_list_order_and_repeated_keys() {
        let merged = |t: Option<FieldType>, live: Value, config: Value| {
            let (Some(t), Some(l), Some(c)) = (t, live.as_array(), config.as_array()) else {
                return Value::Null;
            };
            Value::Array(merge_list(l, c, t))
        };
        assert_eq!(
            merged(
                schema::field(StructType::ObjectMeta, "finalizers"),
                json!(["a", "b", "a", "c"]),
                json!(["c", "a", "d"])
            ),
            json!(["b", "c", "a", "d"])
        );
        assert_eq!(
            merged(
                schema::field(StructType::PodSpec, "containers"),
                json!([{"name":"x","v":1},{"name":"y"},{"name":"x","v":2},"s",{"image":"nokey"}]),
                json!([{"name":"y","v":5},{"name":"z"},{"name":"x","v":6}])
            ),
            json!([{"name":"y","v":5},{"name":"z"},{"name":"x","v":6},"s",{"image":"nokey"}])
        );
        assert_eq!(
            merged(
                schema::field(StructType::Container, "ports"),
                json!([{"containerPort":80,"v":1},{"containerPort":81},
                       {"containerPort":80,"protocol":"TCP","v":2}]),
                json!([{"containerPort":81,"v":3},{"containerPort":80,"v":4}])
            ),
            json!([{"containerPort":81,"v":3},{"containerPort":80,"v":4}])
        );
    }

    /// Containers merge by name, env by name, ports by containerPort+protocol.
    /// Upstream: `+listType`/`+listMapKey`/`+mapType` markers of `k8s.io/api`.
    #[test]
    fn containers_merge_by_name() {
        let live = json!({"spec":{"template":{"spec":{"containers":[
            {"name":"a","image":"a:1","env":[{"name":"X","value":"1"}]},
            {"name":"b","image":"b:1"}]}}}});
        let cfg = json!({"spec":{"template":{"spec":{"containers":[
            {"name":"a","image":"a:2","env":[{"name":"Y","value":"2"}]}]}}}});
        let out = merge(&live, &cfg, schema::root("Deployment"));
        let cs = &out["spec"]["template"]["spec"]["containers"];
        assert_eq!(cs.as_array().map(Vec::len), Some(2));
        assert_eq!(cs[0]["image"], json!("a:2"));
        assert_eq!(cs[0]["env"].as_array().map(Vec::len), Some(2));
        assert_eq!(cs[1]["name"], json!("b"));
    }

    /// Ingress rules are atomic; Service selector is an atomic map.
    /// Upstream: `+listType`/`+listMapKey`/`+mapType` markers of `k8s.io/api`.
    #[test]
    fn ingress_rules_and_service_selector_atomic() {
        let live = json!({"spec":{"rules":[{"host":"a"}]}});
        let cfg = json!({"spec":{"rules":[{"host":"b"}]}});
        let out = merge(&live, &cfg, schema::root("Ingress"));
        assert_eq!(out["spec"]["rules"], json!([{"host":"b"}]));
        let live = json!({"spec":{"selector":{"a":"1","b":"2"}}});
        let cfg = json!({"spec":{"selector":{"c":"3"}}});
        let out = merge(&live, &cfg, schema::root("Service"));
        assert_eq!(out["spec"]["selector"], json!({"c":"3"}));
        let s = to_field_set(&cfg, schema::root("Service"));
        assert_eq!(s.to_fields_v1(), json!({"f:spec":{"f:selector":{}}}));
    }

    /// Labels are granular maps; their entries are owned one by one.
    /// Upstream: `+listType`/`+listMapKey`/`+mapType` markers of `k8s.io/api`.
    #[test]
    fn labels_granular() {
        let live = json!({"metadata":{"labels":{"a":"1"}}});
        let cfg = json!({"metadata":{"labels":{"b":"2"}}});
        let out = merge(&live, &cfg, schema::root("ConfigMap"));
        assert_eq!(out["metadata"]["labels"], json!({"a":"1","b":"2"}));
    }

    /// An update comparison marks new nodes themselves ("." entries).
    /// Upstream: structured-merge-diff `merge.Updater.Update`.
    #[test]
    fn compare_marks_new_nodes() {
        let old = json!({"metadata":{}});
        let new = json!({"metadata":{"labels":{"a":"1"}}});
        let c = compare(&old, &new, schema::root("ConfigMap"));
        assert_eq!(
            c.added.to_fields_v1(),
            json!({"f:metadata":{"f:labels":{".":{},"f:a":{}}}})
        );
    }
}
