//! The implementations that faster code replaced, kept verbatim (renamed) so that tests can
//! check the new code answers exactly as the old did.

#![allow(dead_code)]

use crate::fieldpath::PE;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// A set of field paths stored as a trie (like SMD's `fieldpath.Set`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OldSet {
    /// Paths that end at this level.
    pub members: BTreeSet<PE>,
    /// Sub-sets for paths that continue below this level.
    pub children: BTreeMap<PE, OldSet>,
}

impl OldSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the set has no paths.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty() && self.children.values().all(OldSet::is_empty)
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
    pub fn child(&self, pe: &PE) -> Option<&OldSet> {
        self.children.get(pe)
    }

    /// Set union.
    pub fn union(&self, other: &OldSet) -> OldSet {
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
    pub fn difference(&self, other: &OldSet) -> OldSet {
        let mut out = OldSet::new();
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
    pub fn intersection(&self, other: &OldSet) -> OldSet {
        let mut out = OldSet::new();
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
    pub fn from_fields_v1(v: &Value) -> Option<OldSet> {
        let Value::Object(m) = v else { return None };
        let mut s = OldSet::new();
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
                s.children.insert(pe, OldSet::from_fields_v1(child)?);
            }
        }
        Some(s)
    }
}
