package config

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	v1 "github.com/aimesh/aimesh/api/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

var sprintf = fmt.Sprintf

// ExpandPaths turns a list of files and directories into files: a
// directory stands for its *.yaml, *.yml and *.json files, sorted.
func ExpandPaths(paths []string) ([]string, error) {
	var out []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("read config: %w", err)
		}
		if !st.IsDir() {
			out = append(out, p)
			continue
		}
		ents, err := os.ReadDir(p)
		if err != nil {
			return nil, fmt.Errorf("read config dir: %w", err)
		}
		var files []string
		for _, e := range ents {
			switch strings.ToLower(filepath.Ext(e.Name())) {
			case ".yaml", ".yml", ".json":
				if !e.IsDir() {
					files = append(files, filepath.Join(p, e.Name()))
				}
			}
		}
		sort.Strings(files)
		out = append(out, files...)
	}
	if len(out) == 0 {
		return nil, errors.New("read config: no files")
	}
	return out, nil
}

// DecodeFiles decodes every file. I/O failures are returned as a plain
// error; problems with the documents as an ErrorList naming each.
func DecodeFiles(paths []string) (*Resources, error) {
	files, err := ExpandPaths(paths)
	if err != nil {
		return nil, err
	}
	all := &Resources{}
	var errs ErrorList
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("read config: %w", err)
		}
		res, derrs := Decode(f, data)
		all.Append(res)
		errs = append(errs, derrs...)
	}
	if len(errs) > 0 {
		return all, errs.Err()
	}
	return all, nil
}

// Decode reads the YAML (or JSON) documents in data, strictly. name is
// used in errors. Empty documents are skipped and not counted.
func Decode(name string, data []byte) (*Resources, ErrorList) {
	res := &Resources{}
	var errs ErrorList
	rd := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	index := 0
	for {
		doc, err := rd.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			errs = append(errs, &FieldError{Source: Source{File: name, Index: index}, Reason: "read YAML: " + err.Error()})
			break
		}
		if isEmptyDoc(doc) {
			continue
		}
		src := Source{File: name, Index: index}
		index++
		if e := decodeDoc(res, src, doc); e != nil {
			errs = append(errs, e...)
		}
	}
	return res, errs
}

func isEmptyDoc(doc []byte) bool {
	for _, line := range bytes.Split(doc, []byte("\n")) {
		t := bytes.TrimSpace(line)
		if len(t) > 0 && t[0] != '#' && !bytes.Equal(t, []byte("---")) {
			return false
		}
	}
	return true
}

// decodeDoc decodes one document into res.
func decodeDoc(res *Resources, src Source, doc []byte) ErrorList {
	js, err := yaml.YAMLToJSON(doc)
	if err != nil {
		return ErrorList{{Source: src, Reason: "invalid YAML: " + err.Error()}}
	}
	var head struct {
		metav1.TypeMeta `json:",inline"`
		Metadata        struct {
			Name      string `json:"name"`
			Namespace string `json:"namespace"`
		} `json:"metadata"`
	}
	if err := kjson.UnmarshalCaseSensitivePreserveInts(js, &head); err != nil {
		return ErrorList{{Source: src, Reason: "not a resource: " + err.Error()}}
	}
	fe := func(path, reason string) *FieldError {
		return &FieldError{Source: src, Kind: head.Kind, Name: head.Metadata.Name, Path: path, Reason: reason}
	}
	if head.APIVersion != v1.GroupVersion.String() {
		return ErrorList{fe("apiVersion", fmt.Sprintf("must be %q, not %q", v1.GroupVersion.String(), head.APIVersion))}
	}
	if head.Metadata.Name == "" {
		return ErrorList{fe("metadata.name", "required")}
	}
	var obj any
	switch head.Kind {
	case v1.KindMesh:
		o := &v1.Mesh{}
		res.Meshes, obj = append(res.Meshes, o), o
	case v1.KindVirtualNode:
		o := &v1.VirtualNode{}
		res.VirtualNodes, obj = append(res.VirtualNodes, o), o
	case v1.KindVirtualService:
		o := &v1.VirtualService{}
		res.VirtualServices, obj = append(res.VirtualServices, o), o
	case v1.KindVirtualRouter:
		o := &v1.VirtualRouter{}
		res.VirtualRouters, obj = append(res.VirtualRouters, o), o
	case v1.KindVirtualGateway:
		o := &v1.VirtualGateway{}
		res.VirtualGateways, obj = append(res.VirtualGateways, o), o
	case v1.KindGatewayRoute:
		o := &v1.GatewayRoute{}
		res.GatewayRoutes, obj = append(res.GatewayRoutes, o), o
	default:
		return ErrorList{fe("kind", fmt.Sprintf("unknown kind %q (want Mesh, VirtualNode, VirtualService, VirtualRouter, VirtualGateway or GatewayRoute)", head.Kind))}
	}
	res.SetSource(ObjectKey{Kind: head.Kind, Namespace: head.Metadata.Namespace, Name: head.Metadata.Name}, src)
	strict, err := kjson.UnmarshalStrict(js, obj)
	var errs ErrorList
	if err != nil {
		errs = append(errs, typeError(fe, err))
	}
	for _, s := range strict {
		errs = append(errs, strictError(fe, s))
	}
	return errs
}

// strictError turns an unknown or duplicate field error into a FieldError
// whose path is the field's.
func strictError(fe func(path, reason string) *FieldError, err error) *FieldError {
	var f kjson.FieldError
	if errors.As(err, &f) {
		msg := err.Error()
		switch {
		case strings.HasPrefix(msg, "unknown field"):
			return fe(f.FieldPath(), "unknown field")
		case strings.HasPrefix(msg, "duplicate field"):
			return fe(f.FieldPath(), "duplicate field")
		}
		return fe(f.FieldPath(), msg)
	}
	return fe("", err.Error())
}

// typeError explains a value of the wrong type, e.g. a string where a
// number belongs.
func typeError(fe func(path, reason string) *FieldError, err error) *FieldError {
	msg := err.Error()
	// encoding/json's message: "json: cannot unmarshal string into Go
	// struct field Route.spec.routes.priority of type int64".
	const marker = "into Go struct field "
	if i := strings.Index(msg, marker); i >= 0 {
		rest := msg[i+len(marker):]
		field, typ, _ := strings.Cut(rest, " of type ")
		if dot := strings.Index(field, "."); dot >= 0 {
			field = field[dot+1:]
		}
		got := strings.TrimPrefix(strings.SplitN(msg, " into ", 2)[0], "json: cannot unmarshal ")
		return fe(field, fmt.Sprintf("expected %s, got %s", friendlyType(typ), got))
	}
	return fe("", strings.TrimPrefix(msg, "json: "))
}

func friendlyType(t string) string {
	switch {
	case strings.Contains(t, "int"), strings.HasSuffix(t, "PortNumber"):
		return "an integer"
	case t == "bool" || t == "*bool":
		return "true or false"
	case strings.HasPrefix(t, "[]"):
		return "a list"
	case strings.Contains(t, "string"), strings.HasSuffix(t, "Unit"), strings.HasSuffix(t, "Protocol"),
		strings.HasSuffix(t, "Method"), strings.HasSuffix(t, "Scheme"), strings.HasSuffix(t, "Type"), strings.HasSuffix(t, "Mode"):
		return "a string"
	default:
		return "an object"
	}
}
