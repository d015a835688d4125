package kube

import (
	"slices"
	"strings"
	"testing"

	v1 "github.com/aimesh/aimesh/api/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

func mesh(name string, sel *metav1.LabelSelector) *v1.Mesh {
	return &v1.Mesh{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1.MeshSpec{NamespaceSelector: sel}}
}

func namespace(name string, labels map[string]string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
}

func service2(ns, name, mesh string) *v1.VirtualService {
	s := &v1.VirtualService{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	if mesh != "" {
		s.Spec.MeshRef = &v1.MeshReference{Name: mesh}
	}
	return s
}

func TestSelectResources(t *testing.T) {
	nss := []client.Object{
		namespace("ai", map[string]string{"aimesh.io/mesh": "ai-mesh"}),
		namespace("other", nil),
	}
	svcs := []client.Object{
		service2("ai", "a.local", ""),
		service2("other", "b.local", ""),
		service2("ai", "c.local", "other-mesh"), // another Mesh's, when it exists
		service2("ai", "d.local", "typo-mesh"),  // names no Mesh: ours, and reported
	}
	tests := []struct {
		name     string
		meshes   []client.Object
		serve    string
		want     []string
		problem  string
		noMeshes bool
	}{
		{"absent selector selects none", []client.Object{mesh("ai-mesh", nil)}, "", nil, "", false},
		// c.local names other-mesh, which does not exist here: ours.
		{"empty selector selects all", []client.Object{mesh("ai-mesh", &metav1.LabelSelector{})}, "",
			[]string{"a.local", "b.local", "c.local", "d.local"}, "", false},
		{"labels select", []client.Object{mesh("ai-mesh", &metav1.LabelSelector{MatchLabels: map[string]string{"aimesh.io/mesh": "ai-mesh"}})}, "",
			[]string{"a.local", "c.local", "d.local"}, "", false},
		{"another mesh's resources are not ours", []client.Object{
			mesh("ai-mesh", &metav1.LabelSelector{}), mesh("other-mesh", &metav1.LabelSelector{})}, "ai-mesh",
			[]string{"a.local", "b.local", "d.local"}, "", false},
		{"several meshes need --mesh", []client.Object{mesh("a", nil), mesh("b", nil)}, "", nil, "--mesh", true},
		{"--mesh names a missing mesh", []client.Object{mesh("a", nil)}, "zz", nil, `Mesh "zz" not found`, true},
		{"no mesh", nil, "", nil, "no Mesh", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs := slices.Concat(nss, svcs, tt.meshes)
			sel, err := selectResources(t.Context(), fakeReader(t, objs...), tt.serve)
			if err != nil {
				t.Fatal(err)
			}
			if tt.noMeshes {
				if sel.mesh != nil || !strings.Contains(sel.problem, tt.problem) {
					t.Errorf("mesh %v problem %q, want none and a problem with %q", sel.mesh, sel.problem, tt.problem)
				}
				return
			}
			if sel.mesh == nil {
				t.Fatalf("no mesh: %s", sel.problem)
			}
			if got := names(sel.res.VirtualServices); !slices.Equal(got, tt.want) {
				t.Errorf("selected %v, want %v", got, tt.want)
			}
			if len(sel.res.Meshes) != 1 {
				t.Errorf("%d meshes in the selection, want the served one", len(sel.res.Meshes))
			}
			if len(sel.generations) != 1+len(tt.want) || sel.fingerprint == "" {
				t.Errorf("generations %v fingerprint %q", sel.generations, sel.fingerprint)
			}
		})
	}
}

func TestFingerprintIgnoresStatus(t *testing.T) {
	m := mesh("ai-mesh", &metav1.LabelSelector{})
	s := service2("ai", "a.local", "")
	s.Generation = 1
	r := fakeReader(t, m, s)
	a, err := selectResources(t.Context(), r, "")
	if err != nil {
		t.Fatal(err)
	}
	s.Status.ObservedGeneration = 1
	s.ResourceVersion = ""
	r2 := fakeReader(t, m, s)
	b, err := selectResources(t.Context(), r2, "")
	if err != nil {
		t.Fatal(err)
	}
	if a.fingerprint != b.fingerprint {
		t.Error("a status change changed the fingerprint")
	}
	s.Generation = 2
	r3 := fakeReader(t, m, s)
	c, err := selectResources(t.Context(), r3, "")
	if err != nil {
		t.Fatal(err)
	}
	if c.fingerprint == a.fingerprint {
		t.Error("a spec change (generation) did not change the fingerprint")
	}
}
