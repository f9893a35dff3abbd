//! Field paths and path sets, with the FieldsV1 encoding (B39) and conflict path rendering (B42).

use serde_json::{Map, Value};
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

/// One step of a field path.
#[derive(Debug, Clone)]
pub enum PE {
    /// `f:<name>`: struct field or map key.
    Field(String),
    /// `k:{...}`: associative list item, key fields sorted by name.
    Key(Vec<(String, Value)>),
    /// `v:<json>`: set item.
    Val(Value),
    /// `i:<n>`: list index.
    Index(usize),
}

fn rank(v: &Value) -> u8 {
    match v {
        Value::Null => 0,
        Value::Bool(_) => 1,
        Value::Number(_) => 2,
        Value::String(_) => 3,
        Value::Array(_) => 4,
        Value::Object(_) => 5,
    }
}

/// Total order over JSON values (used for set items and keys).
pub fn cmp_values(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap_or(0.0), y.as_f64().unwrap_or(0.0));
            x.partial_cmp(&y).unwrap_or(Ordering::Equal)
        }
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Array(x), Value::Array(y)) => {
            for (p, q) in x.iter().zip(y.iter()) {
                let c = cmp_values(p, q);
                if c != Ordering::Equal {
                    return c;
                }
            }
            x.len().cmp(&y.len())
        }
        (Value::Object(x), Value::Object(y)) => {
            let xs: BTreeMap<_, _> = x.iter().collect();
            let ys: BTreeMap<_, _> = y.iter().collect();
            for ((ka, va), (kb, vb)) in xs.iter().zip(ys.iter()) {
                let c = ka.cmp(kb).then_with(|| cmp_values(va, vb));
                if c != Ordering::Equal {
                    return c;
                }
            }
            xs.len().cmp(&ys.len())
        }
        _ => rank(a).cmp(&rank(b)),
    }
}

impl PE {
    fn kind_rank(&self) -> u8 {
        match self {
            PE::Field(_) => 0,
            PE::Key(_) => 1,
            PE::Val(_) => 2,
            PE::Index(_) => 3,
        }
    }

    /// The FieldsV1 key string (`f:name`, `k:{..}`, `v:..`, `i:n`).
    pub fn encode(&self) -> String {
        match self {
            PE::Field(n) => format!("f:{n}"),
            PE::Key(kv) => {
                let m: Map<String, Value> =
                    kv.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
                format!("k:{}", Value::Object(m))
            }
            PE::Val(v) => format!("v:{v}"),
            PE::Index(i) => format!("i:{i}"),
        }
    }

    /// Parses a FieldsV1 key string.
    pub fn decode(s: &str) -> Option<PE> {
        let (p, rest) = s.split_at_checked(2)?;
        match p {
            "f:" => Some(PE::Field(rest.to_string())),
            "k:" => {
                let v: Value = serde_json::from_str(rest).ok()?;
                let Value::Object(m) = v else { return None };
                let mut kv: Vec<(String, Value)> = m.into_iter().collect();
                kv.sort_by(|a, b| a.0.cmp(&b.0));
                Some(PE::Key(kv))
            }
            "v:" => serde_json::from_str(rest).ok().map(PE::Val),
            "i:" => rest.parse().ok().map(PE::Index),
            _ => None,
        }
    }

    /// Renders the element as in conflict messages: `.f`, `[k=v]`, `[="v"]`, `[3]`.
    pub fn render(&self) -> String {
        match self {
            PE::Field(n) => format!(".{n}"),
            PE::Key(kv) => {
                let parts: Vec<String> = kv.iter().map(|(k, v)| format!("{k}={v}")).collect();
                format!("[{}]", parts.join(","))
            }
            PE::Val(v) => format!("[={v}]"),
            PE::Index(i) => format!("[{i}]"),
        }
    }
}

impl PartialEq for PE {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for PE {}
impl PartialOrd for PE {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for PE {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (PE::Field(a), PE::Field(b)) => a.cmp(b),
            (PE::Key(a), PE::Key(b)) => {
                for ((ka, va), (kb, vb)) in a.iter().zip(b.iter()) {
                    let c = ka.cmp(kb).then_with(|| cmp_values(va, vb));
                    if c != Ordering::Equal {
                        return c;
                    }
                }
                a.len().cmp(&b.len())
            }
            (PE::Val(a), PE::Val(b)) => cmp_values(a, b),
            (PE::Index(a), PE::Index(b)) => a.cmp(b),
            _ => self.kind_rank().cmp(&other.kind_rank()),
        }
    }
}

/// Renders a whole path, e.g. `.spec.template.spec.containers[name="nginx"].image`.
pub fn render_path(p: &[PE]) -> String {
    p.iter().map(PE::render).collect()
}

/// A set of field paths stored as a trie (like SMD's `fieldpath.Set`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Set {
    /// Paths that end at this level.
    pub members: BTreeSet<PE>,
    /// Sub-sets for paths that continue below this level.
    pub children: BTreeMap<PE, Set>,
}

impl Set {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the set has no paths.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty() && self.children.values().all(Set::is_empty)
    }

    /// Adds a path.
    pub fn insert(&mut self, path: &[PE]) {
        match path {
            [] => {}
            [last] => {
                self.members.insert(last.clone());
            }
            [first, rest @ ..] => self.children.entry(first.clone()).or_default().insert(rest),
        }
    }

    /// Whether a path is a member.
    pub fn has(&self, path: &[PE]) -> bool {
        match path {
            [] => false,
            [last] => self.members.contains(last),
            [first, rest @ ..] => self.children.get(first).is_some_and(|c| c.has(rest)),
        }
    }

    /// The sub-set below one element.
    pub fn child(&self, pe: &PE) -> Option<&Set> {
        self.children.get(pe)
    }

    /// Set union.
    pub fn union(&self, other: &Set) -> Set {
        let mut out = self.clone();
        out.members.extend(other.members.iter().cloned());
        for (k, v) in &other.children {
            let merged = match out.children.get(k) {
                Some(mine) => mine.union(v),
                None => v.clone(),
            };
            out.children.insert(k.clone(), merged);
        }
        out
    }

    /// Set difference (exact paths).
    pub fn difference(&self, other: &Set) -> Set {
        let mut out = Set::new();
        out.members = self.members.difference(&other.members).cloned().collect();
        for (k, v) in &self.children {
            let d = match other.children.get(k) {
                Some(o) => v.difference(o),
                None => v.clone(),
            };
            if !d.is_empty() {
                out.children.insert(k.clone(), d);
            }
        }
        out
    }

    /// Set intersection.
    pub fn intersection(&self, other: &Set) -> Set {
        let mut out = Set::new();
        out.members = self.members.intersection(&other.members).cloned().collect();
        for (k, v) in &self.children {
            if let Some(o) = other.children.get(k) {
                let i = v.intersection(o);
                if !i.is_empty() {
                    out.children.insert(k.clone(), i);
                }
            }
        }
        out
    }

    /// Every path in the set, members of a level before its children (SMD iteration order).
    pub fn paths(&self) -> Vec<Vec<PE>> {
        let mut out = Vec::new();
        self.collect(&mut Vec::new(), &mut out);
        out
    }

    fn collect(&self, prefix: &mut Vec<PE>, out: &mut Vec<Vec<PE>>) {
        for m in &self.members {
            let mut p = prefix.clone();
            p.push(m.clone());
            out.push(p);
        }
        for (k, c) in &self.children {
            prefix.push(k.clone());
            c.collect(prefix, out);
            prefix.pop();
        }
    }

    /// Encodes as FieldsV1 JSON (B39).
    pub fn to_fields_v1(&self) -> Value {
        let mut keys: BTreeSet<&PE> = self.members.iter().collect();
        keys.extend(self.children.keys());
        let mut m = Map::new();
        for k in keys {
            let is_member = self.members.contains(k);
            let v = match self.children.get(k).filter(|c| !c.is_empty()) {
                Some(c) => {
                    let inner = c.to_fields_v1();
                    if is_member {
                        let mut with_dot = Map::new();
                        with_dot.insert(".".into(), Value::Object(Map::new()));
                        if let Value::Object(im) = inner {
                            with_dot.extend(im);
                        }
                        Value::Object(with_dot)
                    } else {
                        inner
                    }
                }
                None => Value::Object(Map::new()),
            };
            m.insert(k.encode(), v);
        }
        Value::Object(m)
    }

    /// Decodes FieldsV1 JSON; `None` if malformed.
    pub fn from_fields_v1(v: &Value) -> Option<Set> {
        let Value::Object(m) = v else { return None };
        let mut s = Set::new();
        for (k, child) in m {
            if k == "." {
                continue;
            }
            let pe = PE::decode(k)?;
            let Value::Object(cm) = child else {
                return None;
            };
            if cm.is_empty() || cm.contains_key(".") {
                s.members.insert(pe.clone());
            }
            if cm.keys().any(|k| k != ".") {
                s.children.insert(pe, Set::from_fields_v1(child)?);
            }
        }
        Some(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// B39: FieldsV1 key order is ".", f:, k:, v:, i: and round-trips.
    #[test]
    fn b39_fieldsv1_encoding_order_and_roundtrip() {
        let mut s = Set::new();
        let c = PE::Field("containers".into());
        let item = PE::Key(vec![("name".into(), json!("nginx"))]);
        s.insert(&[PE::Field("spec".into()), c.clone(), item.clone()]);
        s.insert(&[
            PE::Field("spec".into()),
            c.clone(),
            item.clone(),
            PE::Field("image".into()),
        ]);
        s.insert(&[PE::Field("spec".into()), PE::Field("a".into())]);
        let enc = s.to_fields_v1();
        let text = serde_json::to_string(&enc).unwrap_or_default();
        assert_eq!(
            text,
            r#"{"f:spec":{"f:a":{},"f:containers":{"k:{\"name\":\"nginx\"}":{".":{},"f:image":{}}}}}"#
        );
        assert_eq!(Set::from_fields_v1(&enc), Some(s));
    }

    /// B42: path rendering in conflict messages.
    #[test]
    fn b42_path_rendering() {
        let p = vec![
            PE::Field("spec".into()),
            PE::Key(vec![
                ("containerPort".into(), json!(80)),
                ("protocol".into(), json!("TCP")),
            ]),
            PE::Val(json!("x")),
            PE::Index(3),
        ];
        assert_eq!(
            render_path(&p),
            r#".spec[containerPort=80,protocol="TCP"][="x"][3]"#
        );
    }
}
