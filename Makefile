# Thin targets: the logic lives in scripts/ and in Rust. `make help` lists them.
.DEFAULT_GOAL := help
IMAGE ?= pos-producer:latest
ARGS ?=

.PHONY: help build run test lint musl docker up kafka bench fuzz clean

help: ## list the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

build: ## release build for this machine
	cargo build --release --locked

run: ## run the producer (against KAFKA_BOOTSTRAP_SERVERS, else a local broker) until Ctrl-C
	scripts/run $(ARGS)

test: ## all tests: unit, CLI, real Kafka 4.x and 3.9 brokers, scratch (static binary in chroot)
	scripts/test

lint: ## rustfmt, clippy (default and plaintext-only builds), rustdoc (warnings as errors); hadolint, compose-go, Kubernetes types
	cargo fmt --check
	cargo clippy --locked --all-targets -- -D warnings
	cargo clippy --locked --no-default-features -- -D warnings
	RUSTDOCFLAGS="-D warnings" cargo doc --locked --no-deps --document-private-items
	scripts/lint-docker

musl: ## static binaries: x86_64 and (where the toolchain allows) aarch64
	scripts/musl

docker: ## build the FROM scratch image (needs a Docker engine with BuildKit)
	DOCKER_BUILDKIT=1 docker build -t $(IMAGE) .

up: ## start Kafka and the producer with docker compose (builds the producer image first)
	docker compose up -d --build

kafka: ## run a local Apache Kafka broker on 127.0.0.1 until Ctrl-C (KAFKA_PORT=9092 to fix the port)
	scripts/kafka-local run $(if $(KAFKA_PORT),--port $(KAFKA_PORT))

fuzz: ## the response-decoder fuzzer at length (FUZZ_INPUTS, default 2,000,000; FUZZ_SEED)
	POS_FUZZ_INPUTS=$(or $(FUZZ_INPUTS),2000000) POS_FUZZ_SEED=$(or $(FUZZ_SEED),11) \
	  cargo test --release --locked --bin pos-producer fuzz_ -- --nocapture

bench: ## benchmarks: size per opt-level, throughput, memory, side by side with kcat and Java, instructions, pacing
	scripts/bench

clean: ## remove build output
	cargo clean
