//! Field paths and path sets, with the FieldsV1 encoding (structured-merge-diff
//! `fieldpath/serialize.go`, `serialize-pe.go`) and conflict path rendering
//! (`fieldpath.Path.String`).

use serde_json::{Map, Value};
use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::io::Write as _;

/// One step of a field path.
#[derive(Debug, Clone)]
pub enum PathElement {
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

impl PathElement {
    fn kind_rank(&self) -> u8 {
        match self {
            PathElement::Field(_) => 0,
            PathElement::Key(_) => 1,
            PathElement::Val(_) => 2,
            PathElement::Index(_) => 3,
        }
    }

    /// The FieldsV1 key string (`f:name`, `k:{..}`, `v:..`, `i:n`).
    pub fn encode(&self) -> String {
        match self {
            PathElement::Field(n) => {
                let mut s = String::with_capacity(n.len() + 2);
                s.push_str("f:");
                s.push_str(n);
                s
            }
            PathElement::Index(i) => format!("i:{i}"),
            _ => {
                let mut buf = Vec::with_capacity(32);
                self.encode_into(&mut buf);
                String::from_utf8(buf).unwrap_or_default()
            }
        }
    }

    /// Appends the FieldsV1 key string to `buf`.
    fn encode_into(&self, buf: &mut Vec<u8>) {
        match self {
            PathElement::Field(n) => {
                buf.extend_from_slice(b"f:");
                buf.extend_from_slice(n.as_bytes());
            }
            PathElement::Key(kv) => {
                // The JSON object of the key fields, in their (sorted) order.
                buf.extend_from_slice(b"k:{");
                for (i, (k, v)) in kv.iter().enumerate() {
                    if i > 0 {
                        buf.push(b',');
                    }
                    write_json(buf, k);
                    buf.push(b':');
                    write_json(buf, v);
                }
                buf.push(b'}');
            }
            PathElement::Val(v) => {
                buf.extend_from_slice(b"v:");
                write_json(buf, v);
            }
            PathElement::Index(i) => {
                let _ = write!(buf, "i:{i}");
            }
        }
    }

    /// Parses a FieldsV1 key string.
    pub fn decode(s: &str) -> Option<PathElement> {
        let (p, rest) = s.split_at_checked(2)?;
        match p {
            "f:" => Some(PathElement::Field(rest.to_string())),
            "k:" => {
                let v: Value = serde_json::from_str(rest).ok()?;
                let Value::Object(m) = v else { return None };
                let mut kv: Vec<(String, Value)> = m.into_iter().collect();
                kv.sort_by(|a, b| a.0.cmp(&b.0));
                Some(PathElement::Key(kv))
            }
            "v:" => serde_json::from_str(rest).ok().map(PathElement::Val),
            "i:" => rest.parse().ok().map(PathElement::Index),
            _ => None,
        }
    }

    /// Renders the element as in conflict messages: `.f`, `[k=v]`, `[="v"]`, `[3]`.
    pub fn render(&self) -> String {
        match self {
            PathElement::Field(n) => format!(".{n}"),
            PathElement::Key(kv) => {
                let parts: Vec<String> = kv.iter().map(|(k, v)| format!("{k}={v}")).collect();
                format!("[{}]", parts.join(","))
            }
            PathElement::Val(v) => format!("[={v}]"),
            PathElement::Index(i) => format!("[{i}]"),
        }
    }
}

impl PartialEq for PathElement {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for PathElement {}
impl PartialOrd for PathElement {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for PathElement {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (PathElement::Field(a), PathElement::Field(b)) => a.cmp(b),
            (PathElement::Key(a), PathElement::Key(b)) => {
                for ((ka, va), (kb, vb)) in a.iter().zip(b.iter()) {
                    let c = ka.cmp(kb).then_with(|| cmp_values(va, vb));
                    if c != Ordering::Equal {
                        return c;
                    }
                }
                a.len().cmp(&b.len())
            }
            (PathElement::Val(a), PathElement::Val(b)) => cmp_values(a, b),
            (PathElement::Index(a), PathElement::Index(b)) => a.cmp(b),
            _ => self.kind_rank().cmp(&other.kind_rank()),
        }
    }
}

/// Appends the compact JSON of `v` (serializing a string or a JSON value cannot fail).
fn write_json<T: serde::Serialize + ?Sized>(buf: &mut Vec<u8>, v: &T) {
    let _ = serde_json::to_writer(buf, v);
}

/// Renders a whole path, e.g. `.spec.template.spec.containers[name="nginx"].image`.
pub fn render_path(p: &[PathElement]) -> String {
    p.iter().map(PathElement::render).collect()
}

/// A set of field paths stored as a trie (like SMD's `fieldpath.Set`).
///
/// Each level is a vector of nodes sorted by path element, without duplicates; a node says
/// whether the path ending at it is a member and holds the paths that continue below it. A node
/// is kept only if it is a member or has something below it, so a set is empty exactly when its
/// top level is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Set {
    nodes: Vec<Node>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Node {
    element: PathElement,
    member: bool,
    child: Set,
}

/// Builds one level of a [`Set`] from nodes pushed in any order (e.g. the order of an
/// object's keys), sorting them once at the end instead of inserting path by path.
#[derive(Debug, Default)]
pub struct Level {
    nodes: Vec<Node>,
}

impl Level {
    /// A builder with room for `n` nodes.
    pub fn with_capacity(n: usize) -> Self {
        Self {
            nodes: Vec::with_capacity(n),
        }
    }

    /// Adds the element `element`: `member` if the path ending at it is in the set, `child` the
    /// paths below it. Nothing is added if it is neither a member nor has paths below.
    pub fn push(&mut self, element: PathElement, member: bool, child: Set) {
        if member || !child.is_empty() {
            self.nodes.push(Node {
                element,
                member,
                child,
            });
        }
    }

    /// The set. Equal elements are merged as repeated inserts would: the first one's element
    /// is kept, membership is or-ed and the paths below are united.
    pub fn finish(mut self) -> Set {
        if !self.nodes.is_sorted_by(|a, b| a.element < b.element) {
            self.nodes.sort_by(|a, b| a.element.cmp(&b.element));
            self.nodes.dedup_by(|later, first| {
                if later.element != first.element {
                    return false;
                }
                first.member |= later.member;
                let below = std::mem::take(&mut later.child);
                first.child = std::mem::take(&mut first.child).union_owned(below);
                true
            });
        }
        Set { nodes: self.nodes }
    }
}

impl Set {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the set has no paths.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    fn find(&self, element: &PathElement) -> Result<usize, usize> {
        self.nodes.binary_search_by(|n| n.element.cmp(element))
    }

    fn find_field(&self, name: &str) -> Result<usize, usize> {
        self.nodes.binary_search_by(|n| match &n.element {
            PathElement::Field(f) => f.as_str().cmp(name),
            _ => Ordering::Greater,
        })
    }

    /// Adds a path.
    pub fn insert(&mut self, path: &[PathElement]) {
        let Some((first, rest)) = path.split_first() else {
            return;
        };
        let i = match self.find(first) {
            Ok(i) => i,
            Err(i) => {
                self.nodes.insert(
                    i,
                    Node {
                        element: first.clone(),
                        member: false,
                        child: Set::new(),
                    },
                );
                i
            }
        };
        let node = &mut self.nodes[i];
        if rest.is_empty() {
            node.member = true;
        } else {
            node.child.insert(rest);
        }
    }

    /// Whether a path is a member.
    pub fn has(&self, path: &[PathElement]) -> bool {
        let Some((first, rest)) = path.split_first() else {
            return false;
        };
        match self.find(first) {
            Ok(i) if rest.is_empty() => self.nodes[i].member,
            Ok(i) => self.nodes[i].child.has(rest),
            Err(_) => false,
        }
    }

    /// Whether the one-element path `element` is a member.
    pub fn is_member(&self, element: &PathElement) -> bool {
        self.find(element).is_ok_and(|i| self.nodes[i].member)
    }

    /// The sub-set below one element (`None` if no path continues below it).
    pub fn child(&self, element: &PathElement) -> Option<&Set> {
        self.find(element)
            .ok()
            .map(|i| &self.nodes[i].child)
            .filter(|c| !c.is_empty())
    }

    /// Removes the one-element path `.name` (what is below it stays).
    pub fn remove_field_member(&mut self, name: &str) {
        if let Ok(i) = self.find_field(name) {
            self.nodes[i].member = false;
            if self.nodes[i].child.is_empty() {
                self.nodes.remove(i);
            }
        }
    }

    /// Runs `f` on the sub-set below `.name`, if there is one; drops the element if nothing is
    /// left of it.
    pub fn edit_field_child(&mut self, name: &str, f: impl FnOnce(&mut Set)) {
        if let Ok(i) = self.find_field(name) {
            let node = &mut self.nodes[i];
            f(&mut node.child);
            if !node.member && node.child.is_empty() {
                self.nodes.remove(i);
            }
        }
    }

    /// Set union.
    pub fn union(&self, other: &Set) -> Set {
        if other.is_empty() {
            return self.clone();
        }
        if self.is_empty() {
            return other.clone();
        }
        let (a, b) = (&self.nodes, &other.nodes);
        let mut out = Vec::with_capacity(a.len().max(b.len()));
        let (mut i, mut j) = (0, 0);
        while i < a.len() && j < b.len() {
            match a[i].element.cmp(&b[j].element) {
                Ordering::Less => {
                    out.push(a[i].clone());
                    i += 1;
                }
                Ordering::Greater => {
                    out.push(b[j].clone());
                    j += 1;
                }
                Ordering::Equal => {
                    out.push(Node {
                        element: a[i].element.clone(),
                        member: a[i].member || b[j].member,
                        child: a[i].child.union(&b[j].child),
                    });
                    i += 1;
                    j += 1;
                }
            }
        }
        out.extend_from_slice(&a[i..]);
        out.extend_from_slice(&b[j..]);
        Set { nodes: out }
    }

    /// Set union, reusing both sets.
    pub fn union_owned(self, other: Set) -> Set {
        if other.is_empty() {
            return self;
        }
        if self.is_empty() {
            return other;
        }
        let mut out = Vec::with_capacity(self.nodes.len().max(other.nodes.len()));
        let mut a = self.nodes.into_iter().peekable();
        let mut b = other.nodes.into_iter().peekable();
        while let (Some(x), Some(y)) = (a.peek(), b.peek()) {
            match x.element.cmp(&y.element) {
                Ordering::Less => out.extend(a.next()),
                Ordering::Greater => out.extend(b.next()),
                Ordering::Equal => {
                    if let (Some(mut x), Some(y)) = (a.next(), b.next()) {
                        x.member |= y.member;
                        x.child = x.child.union_owned(y.child);
                        out.push(x);
                    }
                }
            }
        }
        out.extend(a);
        out.extend(b);
        Set { nodes: out }
    }

    /// Set difference (exact paths).
    pub fn difference(&self, other: &Set) -> Set {
        if other.is_empty() || self.is_empty() {
            return self.clone();
        }
        let b = &other.nodes;
        let mut out = Vec::new();
        let mut j = 0;
        for n in &self.nodes {
            while j < b.len() && b[j].element < n.element {
                j += 1;
            }
            match b.get(j).filter(|o| o.element == n.element) {
                None => out.push(n.clone()),
                Some(o) => {
                    let member = n.member && !o.member;
                    let child = n.child.difference(&o.child);
                    if member || !child.is_empty() {
                        out.push(Node {
                            element: n.element.clone(),
                            member,
                            child,
                        });
                    }
                }
            }
        }
        Set { nodes: out }
    }

    /// Set intersection.
    pub fn intersection(&self, other: &Set) -> Set {
        let b = &other.nodes;
        let mut out = Vec::new();
        let mut j = 0;
        for n in &self.nodes {
            while j < b.len() && b[j].element < n.element {
                j += 1;
            }
            if let Some(o) = b.get(j).filter(|o| o.element == n.element) {
                let member = n.member && o.member;
                let child = n.child.intersection(&o.child);
                if member || !child.is_empty() {
                    out.push(Node {
                        element: n.element.clone(),
                        member,
                        child,
                    });
                }
            }
        }
        Set { nodes: out }
    }

    /// The set with every element that has paths below it made a member too where `named`
    /// says it is a named field of a struct (structured-merge-diff
    /// `Set.EnsureNamedFieldsAreMembers`). `named(context, element)` answers whether `element`
    /// is such a field in `context`, and the context of the level below it.
    pub fn ensure_named_fields_are_members<C: Copy>(
        &self,
        context: C,
        named: &impl Fn(C, &PathElement) -> (bool, C),
    ) -> Set {
        Set {
            nodes: self
                .nodes
                .iter()
                .map(|n| {
                    let (is_named, below) = named(context, &n.element);
                    Node {
                        element: n.element.clone(),
                        member: n.member || (is_named && !n.child.is_empty()),
                        child: n.child.ensure_named_fields_are_members(below, named),
                    }
                })
                .collect(),
        }
    }

    /// Every path in the set, members of a level before its children (SMD iteration order).
    pub fn paths(&self) -> Vec<Vec<PathElement>> {
        let mut out = Vec::new();
        self.collect(&mut Vec::new(), &mut out);
        out
    }

    fn collect(&self, prefix: &mut Vec<PathElement>, out: &mut Vec<Vec<PathElement>>) {
        for n in self.nodes.iter().filter(|n| n.member) {
            let mut p = prefix.clone();
            p.push(n.element.clone());
            out.push(p);
        }
        for n in self.nodes.iter().filter(|n| !n.child.is_empty()) {
            prefix.push(n.element.clone());
            n.child.collect(prefix, out);
            prefix.pop();
        }
    }

    /// Encodes as FieldsV1 JSON (structured-merge-diff `fieldpath/serialize.go`).
    pub fn to_fields_v1(&self) -> Value {
        let mut m = Map::with_capacity(self.nodes.len());
        self.write_fields_v1(&mut m);
        Value::Object(m)
    }

    /// Adds this level's FieldsV1 entries to `m`: an element that is a member and has paths
    /// below starts with `".": {}`.
    fn write_fields_v1(&self, m: &mut Map<String, Value>) {
        for n in &self.nodes {
            let inner = if n.child.is_empty() {
                Map::new()
            } else {
                let mut inner = Map::with_capacity(n.child.nodes.len() + usize::from(n.member));
                if n.member {
                    inner.insert(".".into(), Value::Object(Map::new()));
                }
                n.child.write_fields_v1(&mut inner);
                inner
            };
            m.insert(n.element.encode(), Value::Object(inner));
        }
    }

    /// Decodes FieldsV1 JSON; `None` if malformed.
    pub fn from_fields_v1(v: &Value) -> Option<Set> {
        let Value::Object(m) = v else { return None };
        let mut nodes = Vec::with_capacity(m.len());
        for (k, child) in m {
            if k == "." {
                continue;
            }
            let element = PathElement::decode(k)?;
            let Value::Object(cm) = child else {
                return None;
            };
            let member = cm.is_empty() || cm.contains_key(".");
            let below = if cm.keys().any(|k| k != ".") {
                Set::from_fields_v1(child)?
            } else {
                Set::new()
            };
            nodes.push(Node {
                element,
                member,
                child: below,
            });
        }
        if !nodes.is_sorted_by(|a, b| a.element < b.element) {
            // Keys that are not in FieldsV1 order, or two spellings of one element (`v:1`,
            // `v:1.0`): membership is or-ed, the last paths below win, and the element is
            // spelt as its first member (else its first occurrence).
            nodes.sort_by(|a, b| a.element.cmp(&b.element));
            nodes.dedup_by(|later, first| {
                if later.element != first.element {
                    return false;
                }
                if later.member && !first.member {
                    std::mem::swap(&mut first.element, &mut later.element);
                }
                first.member |= later.member;
                if !later.child.is_empty() {
                    first.child = std::mem::take(&mut later.child);
                }
                true
            });
        }
        Some(Set { nodes })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::BTreeSet;

    /// FieldsV1 key order is ".", f:, k:, v:, i: and round-trips.
    /// Upstream: structured-merge-diff `fieldpath/serialize.go`.
    #[test]
    fn fieldsv1_encoding_order_and_roundtrip() {
        let mut s = Set::new();
        let c = PathElement::Field("containers".into());
        let item = PathElement::Key(vec![("name".into(), json!("nginx"))]);
        s.insert(&[PathElement::Field("spec".into()), c.clone(), item.clone()]);
        s.insert(&[
            PathElement::Field("spec".into()),
            c.clone(),
            item.clone(),
            PathElement::Field("image".into()),
        ]);
        s.insert(&[
            PathElement::Field("spec".into()),
            PathElement::Field("a".into()),
        ]);
        let enc = s.to_fields_v1();
        let text = serde_json::to_string(&enc).unwrap_or_default();
        assert_eq!(
            text,
            r#"{"f:spec":{"f:a":{},"f:containers":{"k:{\"name\":\"nginx\"}":{".":{},"f:image":{}}}}}"#
        );
        assert_eq!(Set::from_fields_v1(&enc), Some(s));
    }

    /// A small deterministic pseudo-random generator for the equivalence tests.
    pub(crate) struct Rng(pub(crate) u64);

    impl Rng {
        pub(crate) fn below(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n
        }
    }

    fn random_element(r: &mut Rng) -> PathElement {
        match r.below(8) {
            0..=3 => PathElement::Field(
                ["a", "b", "metadata", "spec", "f.g"][r.below(5) as usize].into(),
            ),
            4 => PathElement::Key(vec![(
                "name".into(),
                json!(["x", "y", "z"][r.below(3) as usize]),
            )]),
            5 => PathElement::Key(vec![
                ("containerPort".into(), json!(80 + r.below(2))),
                (
                    "protocol".into(),
                    json!(["TCP", "UDP"][r.below(2) as usize]),
                ),
            ]),
            6 => PathElement::Val(
                [
                    json!("x"),
                    json!(1),
                    json!(true),
                    json!({"o": [1]}),
                    json!(null),
                ][r.below(5) as usize]
                    .clone(),
            ),
            _ => PathElement::Index(r.below(3) as usize),
        }
    }

    fn random_paths(r: &mut Rng) -> Vec<Vec<PathElement>> {
        (0..r.below(25))
            .map(|_| (0..1 + r.below(4)).map(|_| random_element(r)).collect())
            .collect()
    }

    /// The paths of a set as a flat set: SMD's `fieldpath.Set` is a set of exact paths, so
    /// union, difference and intersection are those of this flat set.
    fn flat(set: &Set) -> BTreeSet<Vec<PathElement>> {
        set.paths().into_iter().collect()
    }

    /// The set answers as a flat set of paths: insert, has, union, difference, intersection
    /// and paths, on random path sets with every kind of element, shared prefixes, members
    /// that also have children, and repeated paths; FieldsV1 round-trips in any key order.
    #[test]
    fn set_behaves_as_a_set_of_paths() {
        let mut r = Rng(0x9e37_79b9_7f4a_7c15);
        for _ in 0..1000 {
            let (pa, pb) = (random_paths(&mut r), random_paths(&mut r));
            let (mut a, mut b) = (Set::new(), Set::new());
            for p in &pa {
                a.insert(p);
            }
            for p in &pb {
                b.insert(p);
            }
            let (fa, fb): (BTreeSet<Vec<PathElement>>, BTreeSet<Vec<PathElement>>) =
                (pa.iter().cloned().collect(), pb.iter().cloned().collect());
            assert_eq!(flat(&a), fa);
            assert_eq!(a.paths().len(), fa.len());
            assert_eq!(a.is_empty(), fa.is_empty());
            for p in pa.iter().chain(&pb) {
                assert_eq!(a.has(p), fa.contains(p));
                assert_eq!(a.is_member(&p[0]), fa.contains(&p[..1]));
                assert_eq!(
                    a.child(&p[0]).is_some(),
                    fa.iter().any(|q| q.len() > 1 && q[0] == p[0])
                );
            }
            let union: BTreeSet<Vec<PathElement>> = fa.union(&fb).cloned().collect();
            assert_eq!(flat(&a.union(&b)), union);
            assert_eq!(flat(&a.clone().union_owned(b.clone())), union);
            assert_eq!(a.union(&b), a.clone().union_owned(b.clone()));
            assert_eq!(
                flat(&a.difference(&b)),
                fa.difference(&fb).cloned().collect()
            );
            assert_eq!(
                flat(&a.intersection(&b)),
                fa.intersection(&fb).cloned().collect()
            );
            assert_eq!(
                flat(&a.union(&b).difference(&a)),
                fb.difference(&fa).cloned().collect()
            );
            // managed::apply's prune takes the owned sets away one at a time.
            let mut c = Set::new();
            for p in random_paths(&mut r).iter().chain(pa.iter().step_by(2)) {
                c.insert(p);
            }
            assert_eq!(
                a.difference(&b).difference(&c).difference(&a),
                a.difference(&b.union(&c).union(&a))
            );
            assert_eq!(a.difference(&b).difference(&c), a.difference(&b.union(&c)));
            let enc = a.to_fields_v1();
            assert_eq!(Set::from_fields_v1(&enc).as_ref(), Some(&a));
            // Keys in reverse order decode to the same set.
            if let Value::Object(m) = &enc {
                let rev: Map<String, Value> = m
                    .iter()
                    .rev()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                assert_eq!(Set::from_fields_v1(&Value::Object(rev)).as_ref(), Some(&a));
            }
        }
    }

    /// Malformed FieldsV1 is refused; `"."` alone and nested members decode; keys out of
    /// order are sorted; two spellings of one element keep its member's spelling and the last
    /// paths below.
    #[test]
    fn from_fields_v1_edge_cases() {
        for (text, want) in FIELDS_V1_EDGE_CASES {
            let v: Value = serde_json::from_str(text).unwrap_or(Value::Null);
            let got = Set::from_fields_v1(&v).map(|s| s.to_fields_v1().to_string());
            assert_eq!(got.as_deref(), *want, "{text}");
        }
    }

    /// FieldsV1 texts and how they re-encode (`None`: refused).
    const FIELDS_V1_EDGE_CASES: &[(&str, Option<&str>)] = &[
        (r#"{}"#, Some(r#"{}"#)),
        (r#"{".":{}}"#, Some(r#"{}"#)),
        (
            r#"{"f:a":{".":{},"f:b":{}}}"#,
            Some(r#"{"f:a":{".":{},"f:b":{}}}"#),
        ),
        (r#"{"f:a":{"f:b":{".":{}}}}"#, Some(r#"{"f:a":{"f:b":{}}}"#)),
        (r#"{"f:a":1}"#, None),
        (r#"{"x:a":{}}"#, None),
        (r#"{"k:[1]":{}}"#, None),
        (
            r#"{"k:{\"b\":1,\"a\":\"x\"}":{"f:c":{}}}"#,
            Some(r#"{"k:{\"a\":\"x\",\"b\":1}":{"f:c":{}}}"#),
        ),
        (
            r#"{"i:2":{},"i:10":{},"v:\"b\"":{},"v:1":{},"f:z":{},"f:a":{}}"#,
            Some(r#"{"f:a":{},"f:z":{},"v:1":{},"v:\"b\"":{},"i:2":{},"i:10":{}}"#),
        ),
        (r#"[]"#, None),
        (
            r#"{"v:1.0":{"f:x":{}},"v:1":{}}"#,
            Some(r#"{"v:1":{".":{},"f:x":{}}}"#),
        ),
        (
            r#"{"v:1":{"f:x":{}},"v:1.0":{"f:y":{}},"i:0":{}}"#,
            Some(r#"{"v:1":{"f:y":{}},"i:0":{}}"#),
        ),
    ];

    /// Path rendering in conflict messages.
    /// Upstream: managedfields `conflict.go`.
    #[test]
    fn path_rendering() {
        let p = vec![
            PathElement::Field("spec".into()),
            PathElement::Key(vec![
                ("containerPort".into(), json!(80)),
                ("protocol".into(), json!("TCP")),
            ]),
            PathElement::Val(json!("x")),
            PathElement::Index(3),
        ];
        assert_eq!(
            render_path(&p),
            r#".spec[containerPort=80,protocol="TCP"][="x"][3]"#
        );
    }
}
