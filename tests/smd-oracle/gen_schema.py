#!/usr/bin/env python3
"""Writes schema-1.32.json: the structured-merge-diff schema of the kinds test-apiserver serves,
converted from the Kubernetes 1.32 JSON schemas that the PyPI package kubernetes-validate ships.

The conversion follows kube-openapi `pkg/schemaconv/openapi.go` (`ToSchemaFromOpenAPI`, the
converter kube-apiserver 1.32 builds its server-side-apply type converter with):

* `type: object` becomes a map: its properties are the map's fields; `additionalProperties`
  gives the element type; an object with neither holds deduced (`__untyped_deduced_`) elements;
  `x-kubernetes-map-type: atomic|granular` sets the element relationship, on the type itself or
  on a property next to its `$ref`.
* `type: array` becomes a list: `x-kubernetes-list-type` atomic/set/map (map with
  `x-kubernetes-list-map-keys`); without it, `x-kubernetes-patch-strategy: merge` makes it
  associative, keyed by `x-kubernetes-patch-merge-key` when there is one; otherwise atomic.
* integer/number are numeric, boolean boolean, string with no format or `byte` a string, any
  other string format (`int-or-string`, `date-time`) and Quantity an untyped scalar;
  RawExtension is `__untyped_atomic_`.

The JSON schemas have no `default` (the OpenAPI v3 document the server uses has them); the list
map keys that have one in k8s.io/api 1.32 are added from KEY_DEFAULTS. structured-merge-diff
only reads defaults of list-map keys (`typed/helpers.go`), so no other default matters here.

Usage: gen_schema.py [--check]   (--check fails if the checked-in file is out of date)
"""

import json
import os
import sys

import kubernetes_validate

VERSION = "v1.32.0-local"
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "schema-1.32.json")
PREFIX = "#/$defs/"

# The kinds test-apiserver serves (tests/apiserver/src/resources.rs).
ROOTS = {
    "Namespace": "io.k8s.api.core.v1.Namespace",
    "ConfigMap": "io.k8s.api.core.v1.ConfigMap",
    "Secret": "io.k8s.api.core.v1.Secret",
    "ServiceAccount": "io.k8s.api.core.v1.ServiceAccount",
    "Service": "io.k8s.api.core.v1.Service",
    "Pod": "io.k8s.api.core.v1.Pod",
    "Event": "io.k8s.api.core.v1.Event",
    "PersistentVolumeClaim": "io.k8s.api.core.v1.PersistentVolumeClaim",
    "Deployment": "io.k8s.api.apps.v1.Deployment",
    "StatefulSet": "io.k8s.api.apps.v1.StatefulSet",
    "Job": "io.k8s.api.batch.v1.Job",
    "CronJob": "io.k8s.api.batch.v1.CronJob",
    "Ingress": "io.k8s.api.networking.v1.Ingress",
    "NetworkPolicy": "io.k8s.api.networking.v1.NetworkPolicy",
}

# `+default="TCP"` on the protocol of ContainerPort and ServicePort (k8s.io/api core/v1
# types.go), the two list-map keys with a default in these kinds.
KEY_DEFAULTS = {
    ("io.k8s.api.core.v1.ContainerPort", "protocol"): "TCP",
    ("io.k8s.api.core.v1.ServicePort", "protocol"): "TCP",
}

QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
RAW_EXTENSION = "io.k8s.apimachinery.pkg.runtime.RawExtension"
UNTYPED = "__untyped_atomic_"
DEDUCED = "__untyped_deduced_"


def main_type(s):
    t = s.get("type")
    if isinstance(t, list):
        t = [x for x in t if x != "null"]
        return t[0] if t else ""
    if t is None and "oneOf" in s:
        return ""
    return t or ""


def relationship(ext, key):
    v = ext.get(key)
    if v is None:
        return None
    if v == "atomic":
        return "atomic"
    if v == "granular":
        return "separable"
    raise SystemExit(f"unknown {key} {v!r}")


class Converter:
    def __init__(self, defs):
        self.defs = defs
        self.todo = []
        self.seen = set()

    def named(self, name):
        if name not in self.seen:
            self.seen.add(name)
            self.todo.append(name)
        return name

    def ref(self, s):
        """A TypeRef for a property or element schema."""
        r = s.get("$ref")
        if r:
            name = r[len(PREFIX):]
            if name == RAW_EXTENSION:
                return {"namedType": UNTYPED}
            out = {"namedType": self.named(name)}
            if relationship(s, "x-kubernetes-map-type"):
                # An override next to a `$ref` (a TypeRef's elementRelationship) is newer than
                # structured-merge-diff v4.1.2; none of these kinds has one.
                raise SystemExit(f"map-type override on a reference to {name}")
            return out
        # The inlined atom's members sit in the TypeRef itself (schema `TypeRef.Inlined`).
        return self.atom(s)

    def atom(self, s, name=None):
        if name in (QUANTITY,):
            return {"scalar": "untyped"}
        if name == "io.k8s.apimachinery.pkg.util.intstr.IntOrString":
            # `type: string, format: int-or-string` in the OpenAPI document.
            return {"scalar": "untyped"}
        t = main_type(s)
        if t == "object":
            return {"map": self.object(s)}
        if t == "array":
            return {"list": self.array(s)}
        if t in ("integer", "number"):
            return {"scalar": "numeric"}
        if t == "boolean":
            return {"scalar": "boolean"}
        if t == "string":
            fmt = s.get("format", "")
            return {"scalar": "string" if fmt in ("", "byte") else "untyped"}
        raise SystemExit(f"unrecognised type {t!r} in {name or s}")

    def object(self, s):
        m = {}
        props = s.get("properties", {})
        fields = []
        for fname in sorted(props):
            f = {"name": fname, "type": self.ref(props[fname])}
            fields.append(f)
        if fields:
            m["fields"] = fields
        ap = s.get("additionalProperties")
        if ap is None:
            if not props:
                m["elementType"] = {"namedType": DEDUCED}
        elif isinstance(ap, dict):
            m["elementType"] = self.ref(ap)
        elif ap is True:
            m["elementType"] = {"namedType": DEDUCED}
        rel = relationship(s, "x-kubernetes-map-type")
        if rel:
            m["elementRelationship"] = rel
        return m

    def array(self, s):
        lst = {"elementType": self.ref(s["items"]), "elementRelationship": "atomic"}
        lt = s.get("x-kubernetes-list-type")
        ps = s.get("x-kubernetes-patch-strategy")
        if lt is not None:
            if lt == "set":
                lst["elementRelationship"] = "associative"
            elif lt == "map":
                lst["elementRelationship"] = "associative"
                lst["keys"] = list(s["x-kubernetes-list-map-keys"])
            elif lt != "atomic":
                raise SystemExit(f"unknown list type {lt!r}")
        elif ps in ("merge", "merge,retainKeys"):
            lst["elementRelationship"] = "associative"
            key = s.get("x-kubernetes-patch-merge-key")
            if key:
                lst["keys"] = [key]
        return lst

    def run(self, roots):
        for r in roots:
            self.named(r)
        types = []
        while self.todo:
            name = self.todo.pop(0)
            atom = self.atom(self.defs[name], name)
            for (tname, fname), default in KEY_DEFAULTS.items():
                if tname == name:
                    for f in atom["map"]["fields"]:
                        if f["name"] == fname:
                            f["default"] = default
            types.append({"name": name, **atom})
        types.sort(key=lambda t: t["name"])
        types.append(
            {
                "name": UNTYPED,
                "scalar": "untyped",
                "list": {"elementType": {"namedType": UNTYPED}, "elementRelationship": "atomic"},
                "map": {"elementType": {"namedType": UNTYPED}, "elementRelationship": "atomic"},
            }
        )
        types.append(
            {
                "name": DEDUCED,
                "scalar": "untyped",
                "list": {"elementType": {"namedType": UNTYPED}, "elementRelationship": "atomic"},
                "map": {"elementType": {"namedType": DEDUCED}, "elementRelationship": "separable"},
            }
        )
        return types


def generate():
    base = os.path.dirname(kubernetes_validate.__file__)
    path = os.path.join(base, "kubernetes-json-schema", VERSION, "_definitions.json")
    with open(path) as f:
        defs = json.load(f)["$defs"]
    types = Converter(defs).run(ROOTS.values())
    # Only `types`: structured-merge-diff's parser rejects any other member.
    doc = {"types": types}
    return json.dumps(doc, indent=1, sort_keys=True) + "\n"


def main():
    text = generate()
    if sys.argv[1:] == ["--check"]:
        with open(OUT) as f:
            if f.read() != text:
                raise SystemExit(f"{OUT} is out of date: run {sys.argv[0]}")
        return
    with open(OUT, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
