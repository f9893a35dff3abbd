// smd-oracle replays server-side applies and updates through structured-merge-diff's
// merge.Updater, the library kube-apiserver's field manager is built on, so that
// test-apiserver's own merge and ownership can be checked against it.
//
// It reads the schema (structured-merge-diff's schema YAML; JSON is YAML) from the file named
// by its one argument, then one JSON request per line on stdin, and answers each with one
// JSON line on stdout. A request is one operation on a given live object and managed fields;
// the caller keeps the state between operations, so one process serves many sequences.
//
// Request:  {"type": root type name, "live": object or null, "managers": {key: FieldsV1},
//
//	"op": "apply"|"update", "manager": key, "object": config or new object, "force": bool}
//
// Answer:   {"object": merged or updated object, "changed": bool, "managers": {key: FieldsV1},
//
//	"conflicts": {key: FieldsV1}, "conflict_count": n} or {"error": "..."}
//
// A manager's key is the caller's; each is one manager in structured-merge-diff's sense (the
// managedfields identity: name, operation, apiVersion and subresource). All managers share
// one apiVersion, so the converter is the identity.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/ioutil"
	"os"

	"sigs.k8s.io/structured-merge-diff/v4/fieldpath"
	"sigs.k8s.io/structured-merge-diff/v4/merge"
	"sigs.k8s.io/structured-merge-diff/v4/typed"
)

const version = fieldpath.APIVersion("v1")

type request struct {
	Type     string                     `json:"type"`
	Live     json.RawMessage            `json:"live"`
	Managers map[string]json.RawMessage `json:"managers"`
	Op       string                     `json:"op"`
	Manager  string                     `json:"manager"`
	Object   json.RawMessage            `json:"object"`
	Force    bool                       `json:"force"`
}

type answer struct {
	Object        interface{}                `json:"object,omitempty"`
	Changed       bool                       `json:"changed"`
	Managers      map[string]json.RawMessage `json:"managers,omitempty"`
	Conflicts     map[string]json.RawMessage `json:"conflicts,omitempty"`
	ConflictCount int                        `json:"conflict_count"`
	Error         string                     `json:"error,omitempty"`
}

// identity is the converter of a single-version world.
type identity struct{}

func (identity) Convert(o *typed.TypedValue, _ fieldpath.APIVersion) (*typed.TypedValue, error) {
	return o, nil
}
func (identity) IsMissingVersionError(error) bool { return false }

// stripSet is what managedfields `stripmeta.go` takes out of the acting manager's set.
var stripSet = fieldpath.NewSet(
	fieldpath.MakePathOrDie("apiVersion"),
	fieldpath.MakePathOrDie("kind"),
	fieldpath.MakePathOrDie("metadata"),
	fieldpath.MakePathOrDie("metadata", "name"),
	fieldpath.MakePathOrDie("metadata", "namespace"),
	fieldpath.MakePathOrDie("metadata", "creationTimestamp"),
	fieldpath.MakePathOrDie("metadata", "selfLink"),
	fieldpath.MakePathOrDie("metadata", "uid"),
	fieldpath.MakePathOrDie("metadata", "clusterName"),
	fieldpath.MakePathOrDie("metadata", "generation"),
	fieldpath.MakePathOrDie("metadata", "managedFields"),
	fieldpath.MakePathOrDie("metadata", "resourceVersion"),
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: smd-oracle SCHEMA")
		os.Exit(2)
	}
	schemaText, err := ioutil.ReadFile(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	parser, err := typed.NewParser(typed.YAMLObject(schemaText))
	if err != nil {
		fmt.Fprintln(os.Stderr, "schema:", err)
		os.Exit(1)
	}
	in := bufio.NewReader(os.Stdin)
	out := bufio.NewWriter(os.Stdout)
	for {
		line, err := in.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) > 0 {
			var req request
			var ans answer
			if e := json.Unmarshal(line, &req); e != nil {
				ans = answer{Error: "request: " + e.Error()}
			} else if a, e := serve(parser, &req); e != nil {
				ans = answer{Error: e.Error()}
			} else {
				ans = *a
			}
			b, e := json.Marshal(ans)
			if e != nil {
				b, _ = json.Marshal(answer{Error: "answer: " + e.Error()})
			}
			out.Write(b)
			out.WriteByte('\n')
			out.Flush()
		}
		if err != nil {
			return
		}
	}
}

// decode reads JSON with integers kept as int64 (structured-merge-diff's own reader does the
// same), so keys such as {"containerPort":80} print as they do in kube-apiserver.
func decode(raw json.RawMessage) (interface{}, error) {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v interface{}
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	return numbers(v), nil
}

func numbers(v interface{}) interface{} {
	switch t := v.(type) {
	case json.Number:
		if i, err := t.Int64(); err == nil {
			return i
		}
		f, _ := t.Float64()
		return f
	case map[string]interface{}:
		for k, c := range t {
			t[k] = numbers(c)
		}
	case []interface{}:
		for i, c := range t {
			t[i] = numbers(c)
		}
	}
	return v
}

func typedOf(pt typed.ParseableType, raw json.RawMessage) (*typed.TypedValue, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return pt.FromUnstructured(map[string]interface{}{})
	}
	v, err := decode(raw)
	if err != nil {
		return nil, err
	}
	return pt.FromUnstructured(v)
}

// managersOf builds a fresh ManagedFields (the updater changes the map it is given).
func managersOf(in map[string]json.RawMessage) (fieldpath.ManagedFields, error) {
	out := fieldpath.ManagedFields{}
	for k, raw := range in {
		s := fieldpath.NewSet()
		if err := s.FromJSON(bytes.NewReader(raw)); err != nil {
			return nil, fmt.Errorf("managers[%s]: %v", k, err)
		}
		out[k] = fieldpath.NewVersionedSet(s, version, true)
	}
	return out, nil
}

func setsJSON(m map[string]*fieldpath.Set) (map[string]json.RawMessage, error) {
	out := map[string]json.RawMessage{}
	for k, s := range m {
		b, err := s.ToJSON()
		if err != nil {
			return nil, err
		}
		out[k] = b
	}
	return out, nil
}

func serve(parser *typed.Parser, req *request) (*answer, error) {
	pt := parser.Type(req.Type)
	if !pt.IsValid() {
		return nil, fmt.Errorf("unknown type %q", req.Type)
	}
	live, err := typedOf(pt, req.Live)
	if err != nil {
		return nil, fmt.Errorf("live: %v", err)
	}
	obj, err := typedOf(pt, req.Object)
	if err != nil {
		return nil, fmt.Errorf("object: %v", err)
	}
	managers, err := managersOf(req.Managers)
	if err != nil {
		return nil, err
	}
	updater := merge.Updater{Converter: identity{}}
	var result *typed.TypedValue
	var after fieldpath.ManagedFields
	ans := &answer{}
	switch req.Op {
	case "update":
		result, after, err = updater.Update(live, obj, version, managers, req.Manager)
		if err != nil {
			return nil, err
		}
	case "apply":
		result, after, err = updater.Apply(live, obj, version, managers, req.Manager, req.Force)
		var conflicts merge.Conflicts
		if errors.As(err, &conflicts) {
			sets, n, e := conflictSets(&updater, parser, req, live, obj)
			if e != nil {
				return nil, e
			}
			if n != len(conflicts) {
				return nil, fmt.Errorf("%d conflicts counted, %d reported", n, len(conflicts))
			}
			if ans.Conflicts, err = setsJSON(sets); err != nil {
				return nil, err
			}
			ans.ConflictCount = n
			return ans, nil
		}
		if err != nil {
			return nil, err
		}
		if result == nil {
			result = live
		}
	default:
		return nil, fmt.Errorf("unknown op %q", req.Op)
	}
	if vs, ok := after[req.Manager]; ok {
		if s := vs.Set().Difference(stripSet); s.Empty() {
			delete(after, req.Manager)
		} else {
			after[req.Manager] = fieldpath.NewVersionedSet(s, vs.APIVersion(), vs.Applied())
		}
	}
	sets := map[string]*fieldpath.Set{}
	for k, vs := range after {
		sets[k] = vs.Set()
	}
	if ans.Managers, err = setsJSON(sets); err != nil {
		return nil, err
	}
	cmp, err := live.Compare(result)
	if err != nil {
		return nil, err
	}
	ans.Changed = !cmp.IsSame()
	ans.Object = result.AsValue().Unstructured()
	return ans, nil
}

// conflictSets computes the conflicts of a refused apply as `Updater.update` does: the fields
// each other manager owns that the forced apply would change or add. structured-merge-diff
// v4.1.2's `ConflictsFromManagers` reuses one path slice while iterating (fixed upstream in
// 24aa83d), so the paths of its error are not read; only their number is checked.
func conflictSets(u *merge.Updater, parser *typed.Parser, req *request, live, obj *typed.TypedValue) (map[string]*fieldpath.Set, int, error) {
	managers, err := managersOf(req.Managers)
	if err != nil {
		return nil, 0, err
	}
	forced, _, err := u.Apply(live, obj, version, managers, req.Manager, true)
	if err != nil {
		return nil, 0, err
	}
	if forced == nil {
		forced = live
	}
	cmp, err := live.Compare(forced)
	if err != nil {
		return nil, 0, err
	}
	changed := cmp.Modified.Union(cmp.Added)
	before, err := managersOf(req.Managers)
	if err != nil {
		return nil, 0, err
	}
	out := map[string]*fieldpath.Set{}
	n := 0
	for k, vs := range before {
		if k == req.Manager {
			continue
		}
		c := vs.Set().Intersection(changed)
		if c.Empty() {
			continue
		}
		out[k] = c
		c.Iterate(func(fieldpath.Path) { n++ })
	}
	return out, n, nil
}
