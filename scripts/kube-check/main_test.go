package main

import (
	"strings"
	"testing"
)

// Each planted fault in the project's own manifests must be found.
func TestPlantedFaultsAreFound(t *testing.T) {
	files, err := read("../../deploy/kubernetes")
	if err != nil {
		t.Fatal(err)
	}
	known, err := variables("../../src/config/options.rs")
	if err != nil {
		t.Fatal(err)
	}
	check1 := func(files map[string][]byte) error {
		m, err := decode(files)
		if err != nil {
			return err
		}
		return check(m, known)
	}
	if err := check1(files); err != nil {
		t.Fatalf("the manifests as they are: %v", err)
	}
	cases := []struct{ file, from, to, want string }{
		{"statefulset.yaml", "  replicas: 3", "  replica: 3", "unknown field"},
		{"statefulset.yaml", "  replicas: 3", "  replicas: 2", "must agree"},
		{"statefulset.yaml", "value: ordinal/3", "value: 1/3", "ordinal/N"},
		{"statefulset.yaml", "fieldPath: metadata.name", "fieldPath: metadata.namespace", "POD_NAME"},
		{"statefulset.yaml", "path: /readyz", "path: /healthz", "/readyz"},
		{"statefulset.yaml", `prometheus.io/port: "9464"`, `prometheus.io/port: "9090"`, "annotations"},
		{"statefulset.yaml", "readOnlyRootFilesystem: true", "readOnlyRootFilesystem: false", "read-only root"},
		{"statefulset.yaml", "runAsUser: 65532", "runAsUser: 0", "uid 65532"},
		{"statefulset.yaml", "- name: KAFKA_TOPIC\n", "- name: KAFKA_TOPICS\n", "KAFKA_TOPICS is not one"},
		{"statefulset.yaml", "secretName: pos-producer-kafka", "secretName: other", "KAFKA_SASL_PASSWORD_FILE"},
		{"statefulset.yaml", "containerPort: 9464", "containerPort: \"9464\"", "cannot unmarshal"},
		{"service.yaml", "clusterIP: None", "clusterIP: 10.0.0.1", "headless"},
		{"secret.yaml", "sasl-password: change-me", "password: change-me", "KAFKA_SASL_PASSWORD_FILE"},
	}
	for _, c := range cases {
		planted := map[string][]byte{}
		for k, v := range files {
			planted[k] = v
		}
		text := string(files[c.file])
		if !strings.Contains(text, c.from) {
			t.Fatalf("%s has no %q to plant a fault in", c.file, c.from)
		}
		planted[c.file] = []byte(strings.Replace(text, c.from, c.to, 1))
		err := check1(planted)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s with %q: got %v, want an error about %q", c.file, c.to, err, c.want)
		}
	}
}
