// compose-check loads compose.yaml with compose-go, the loader of `docker compose` itself, and
// checks what the project promises about it. `make lint` runs it (scripts/lint-docker).
package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
)

func main() {
	if err := check(os.Args[1]); err != nil {
		fmt.Fprintf(os.Stderr, "compose.yaml: %v\n", err)
		os.Exit(1)
	}
	fmt.Println("compose.yaml: ok (loaded by compose-go)")
}

func check(file string) error {
	opts, err := cli.NewProjectOptions([]string{file}, cli.WithName("pos-producer"), cli.WithOsEnv)
	if err != nil {
		return err
	}
	project, err := opts.LoadProject(context.Background())
	if err != nil {
		return err
	}
	if len(project.Services) != 3 {
		return fmt.Errorf("services %v, want kafka, topics and producer", project.ServiceNames())
	}
	topics, ok := project.Services["topics"]
	if !ok || len(topics.Command) != 1 || topics.Command[0] != "--create-topics" || topics.PullPolicy != "build" {
		return fmt.Errorf("the topics service must run the built image with --create-topics")
	}
	if dep, ok := topics.DependsOn["kafka"]; !ok || dep.Condition != "service_healthy" {
		return fmt.Errorf("the topics service must wait for kafka's healthcheck")
	}
	kafka, ok := project.Services["kafka"]
	if !ok {
		return fmt.Errorf("no kafka service")
	}
	producer, ok := project.Services["producer"]
	if !ok {
		return fmt.Errorf("no producer service")
	}
	for _, p := range kafka.Ports {
		if p.HostIP != "127.0.0.1" {
			return fmt.Errorf("kafka publishes port %d on %q: an unauthenticated broker belongs on 127.0.0.1 only", p.Target, p.HostIP)
		}
	}
	data := false
	for _, v := range kafka.Volumes {
		if v.Type == "volume" && v.Source == "kafka-data" && v.Target == value(kafka.Environment["KAFKA_LOG_DIRS"]) {
			data = true
		}
	}
	if _, declared := project.Volumes["kafka-data"]; !data || !declared {
		return fmt.Errorf("kafka's data (KAFKA_LOG_DIRS) must be in the named volume kafka-data")
	}
	if producer.Build == nil || producer.PullPolicy != "build" {
		return fmt.Errorf("the producer must be built here and never pulled (build: ., pull_policy: build)")
	}
	if value(producer.Environment["KAFKA_BOOTSTRAP_SERVERS"]) != "kafka:9092" {
		return fmt.Errorf("the producer must reach kafka:9092")
	}
	if dep, ok := producer.DependsOn["topics"]; !ok || dep.Condition != "service_completed_successfully" {
		return fmt.Errorf("the producer must start after the topics step succeeded")
	}
	addr := value(producer.Environment["PRODUCER_METRICS_ADDR"])
	_, port, found := strings.Cut(addr, ":")
	if !found || port == "" {
		return fmt.Errorf("the producer must serve its metrics (PRODUCER_METRICS_ADDR :PORT), not %q", addr)
	}
	published := false
	for _, p := range producer.Ports {
		if p.HostIP != "127.0.0.1" {
			return fmt.Errorf("the producer publishes port %d on %q: its metrics endpoint belongs on 127.0.0.1 only", p.Target, p.HostIP)
		}
		published = published || fmt.Sprint(p.Target) == port
	}
	if !published {
		return fmt.Errorf("the producer's metrics port %s is not published on 127.0.0.1", port)
	}
	hc := producer.HealthCheck
	want := []string{"CMD", "/pos-producer", "--probe", "http://127.0.0.1:" + port + "/readyz"}
	if hc == nil || strings.Join(hc.Test, " ") != strings.Join(want, " ") {
		return fmt.Errorf("the producer's healthcheck must be %v (the image has no shell or curl)", want)
	}
	return nil
}

// value is an environment entry's value ("" when unset).
func value(v *string) string {
	if v == nil {
		return ""
	}
	return *v
}
