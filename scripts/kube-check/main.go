// kube-check decodes deploy/kubernetes/*.yaml strictly into the Kubernetes API's own Go types
// (an unknown or misspelt field is an error, as `kubectl apply --validate=strict` makes it) and
// checks what the project promises about them. `make lint` runs it (scripts/lint-docker).
package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// Manifests is what the directory holds, decoded.
type Manifests struct {
	StatefulSet *appsv1.StatefulSet
	Service     *corev1.Service
	Secret      *corev1.Secret
}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: kube-check DIR OPTIONS_RS (deploy/kubernetes, src/config/options.rs)")
		os.Exit(2)
	}
	dir, options := os.Args[1], os.Args[2]
	files, err := read(dir)
	if err == nil {
		var known map[string]bool
		if known, err = variables(options); err == nil {
			var m Manifests
			if m, err = decode(files); err == nil {
				err = check(m, known)
			}
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", dir, err)
		os.Exit(1)
	}
	fmt.Printf("%s: ok (%d manifests decoded strictly by the Kubernetes API types)\n", dir, len(files))
}

func read(dir string) (map[string][]byte, error) {
	names, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{}
	for _, name := range names {
		text, err := os.ReadFile(name)
		if err != nil {
			return nil, err
		}
		files[filepath.Base(name)] = text
	}
	return files, nil
}

// variables are the KAFKA_/PRODUCER_ variables the binary reads, from its option table.
func variables(optionsRs string) (map[string]bool, error) {
	text, err := os.ReadFile(optionsRs)
	if err != nil {
		return nil, err
	}
	known := map[string]bool{"POD_NAME": true, "HOSTNAME": true}
	for _, m := range regexp.MustCompile(`"((?:KAFKA|PRODUCER)_[A-Z0-9_]+|REFUND_PROBABILITY)"`).FindAllStringSubmatch(string(text), -1) {
		known[m[1]] = true
	}
	if len(known) < 20 {
		return nil, fmt.Errorf("%s: found only %d variables; is it the option table?", optionsRs, len(known))
	}
	return known, nil
}

// decode reads each file (one object each) strictly into the type its kind names.
func decode(files map[string][]byte) (Manifests, error) {
	var m Manifests
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		text := files[name]
		if bytes.Contains(text, []byte("\n---")) {
			return m, fmt.Errorf("%s: one object per file", name)
		}
		var head struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
		}
		if err := yaml.Unmarshal(text, &head); err != nil {
			return m, fmt.Errorf("%s: %v", name, err)
		}
		var err error
		switch head.APIVersion + " " + head.Kind {
		case "apps/v1 StatefulSet":
			m.StatefulSet = &appsv1.StatefulSet{}
			err = yaml.UnmarshalStrict(text, m.StatefulSet)
		case "v1 Service":
			m.Service = &corev1.Service{}
			err = yaml.UnmarshalStrict(text, m.Service)
		case "v1 Secret":
			m.Secret = &corev1.Secret{}
			err = yaml.UnmarshalStrict(text, m.Secret)
		default:
			err = fmt.Errorf("unexpected %s %s", head.APIVersion, head.Kind)
		}
		if err != nil {
			return m, fmt.Errorf("%s: %v", name, err)
		}
	}
	if m.StatefulSet == nil || m.Service == nil || m.Secret == nil {
		return m, fmt.Errorf("want a StatefulSet, a Service and a Secret")
	}
	return m, nil
}

func check(m Manifests, known map[string]bool) error {
	sts := m.StatefulSet
	pod := sts.Spec.Template.Spec
	if len(pod.Containers) != 1 {
		return fmt.Errorf("the StatefulSet runs one container, not %d", len(pod.Containers))
	}
	c := pod.Containers[0]
	env := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		if !known[e.Name] {
			return fmt.Errorf("environment variable %s is not one pos-producer reads", e.Name)
		}
		env[e.Name] = e
	}

	// One manifest for every replica: the instance comes from the pod's ordinal.
	instance := env["PRODUCER_INSTANCE"].Value
	n, err := strconv.Atoi(strings.TrimPrefix(instance, "ordinal/"))
	if !strings.HasPrefix(instance, "ordinal/") || err != nil {
		return fmt.Errorf("PRODUCER_INSTANCE must be ordinal/N, not %q", instance)
	}
	if sts.Spec.Replicas == nil || int(*sts.Spec.Replicas) != n {
		return fmt.Errorf("replicas and the n of PRODUCER_INSTANCE=%s must agree", instance)
	}
	if f := env["POD_NAME"].ValueFrom; f == nil || f.FieldRef == nil || f.FieldRef.FieldPath != "metadata.name" {
		return fmt.Errorf("POD_NAME must come from the pod's metadata.name")
	}

	// Labels that select the pods.
	labels := sts.Spec.Template.Labels
	if sts.Spec.Selector == nil || !subset(sts.Spec.Selector.MatchLabels, labels) || !subset(m.Service.Spec.Selector, labels) {
		return fmt.Errorf("the StatefulSet's and the Service's selectors must match the pod template's labels")
	}
	if sts.Spec.ServiceName != m.Service.Name || m.Service.Spec.ClusterIP != corev1.ClusterIPNone {
		return fmt.Errorf("serviceName must name the headless Service %q", m.Service.Name)
	}

	// The metrics port: served, named, probed and announced alike.
	addr := env["PRODUCER_METRICS_ADDR"].Value
	i := strings.LastIndex(addr, ":")
	port, err := strconv.Atoi(addr[i+1:])
	if i < 0 || err != nil {
		return fmt.Errorf("PRODUCER_METRICS_ADDR must be [ip]:port, not %q", addr)
	}
	var named bool
	for _, p := range c.Ports {
		named = named || (p.Name == "metrics" && int(p.ContainerPort) == port)
	}
	if !named {
		return fmt.Errorf("the container must name its port %d (PRODUCER_METRICS_ADDR) metrics", port)
	}
	for probe, path := range map[*corev1.Probe]string{c.LivenessProbe: "/healthz", c.ReadinessProbe: "/readyz"} {
		if probe == nil || probe.HTTPGet == nil || probe.HTTPGet.Path != path || probe.HTTPGet.Port.String() != "metrics" {
			return fmt.Errorf("want an HTTP probe of %s on the metrics port", path)
		}
	}
	a := sts.Spec.Template.Annotations
	if a["prometheus.io/scrape"] != "true" || a["prometheus.io/port"] != strconv.Itoa(port) || a["prometheus.io/path"] != "/metrics" {
		return fmt.Errorf("the pod's prometheus.io annotations must announce /metrics on port %d", port)
	}

	// As the image runs: uid 65532, nothing writable, no capabilities.
	psc, sc := pod.SecurityContext, c.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser != 65532 ||
		psc.FSGroup == nil || *psc.FSGroup != 65532 {
		return fmt.Errorf("the pod must run as non-root uid 65532 with fsGroup 65532, as the image does")
	}
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem || sc.AllowPrivilegeEscalation == nil ||
		*sc.AllowPrivilegeEscalation || sc.Capabilities == nil || len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL" {
		return fmt.Errorf("the container must have a read-only root, no privilege escalation and drop ALL capabilities")
	}

	// The password from the Secret, as a file.
	if _, plain := env["KAFKA_SASL_PASSWORD"]; plain {
		return fmt.Errorf("KAFKA_SASL_PASSWORD in the manifest: use KAFKA_SASL_PASSWORD_FILE and the Secret")
	}
	file := env["KAFKA_SASL_PASSWORD_FILE"].Value
	return secretFile(pod, c, m.Secret, file)
}

// secretFile checks that `file` is a key of `secret`, mounted read-only from a volume of it.
func secretFile(pod corev1.PodSpec, c corev1.Container, secret *corev1.Secret, file string) error {
	for _, mount := range c.VolumeMounts {
		dir := strings.TrimSuffix(mount.MountPath, "/") + "/"
		if !strings.HasPrefix(file, dir) {
			continue
		}
		for _, v := range pod.Volumes {
			if v.Name != mount.Name || v.Secret == nil || v.Secret.SecretName != secret.Name {
				continue
			}
			for _, item := range v.Secret.Items {
				_, inData := secret.Data[item.Key]
				_, inString := secret.StringData[item.Key]
				if dir+item.Path == file && (inData || inString) && mount.ReadOnly {
					return nil
				}
			}
		}
	}
	return fmt.Errorf("KAFKA_SASL_PASSWORD_FILE=%s must be a key of Secret %s mounted read-only", file, secret.Name)
}

func subset(sel, labels map[string]string) bool {
	if len(sel) == 0 {
		return false
	}
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}
