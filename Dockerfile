# pos-producer in an empty image: one static musl binary, nothing else.
#
#   DOCKER_BUILDKIT=1 docker build -t pos-producer .        (Docker 23+ uses BuildKit anyway)
#   docker buildx build --platform linux/amd64,linux/arm64 -t REGISTRY/pos-producer --push .
#
# Needs BuildKit: the build stage runs on the build machine's platform (`--platform=$BUILDPLATFORM`)
# and cross-compiles for the target one from BuildKit's TARGETARCH (rust-lld links; no C cross
# toolchain, no emulation). No `# syntax=` line: the built-in frontend has every feature used
# here, and a syntax line would pull a frontend image at build time (offline builds fail).
# RUST_IMAGE names the builder base (a mirror's copy, or a local image in the tests).

ARG RUST_IMAGE=rust:1.95-alpine
FROM --platform=$BUILDPLATFORM ${RUST_IMAGE} AS build
# Bare, so that BuildKit fills it in for each --platform (a default would win over it).
ARG TARGETARCH
WORKDIR /src
RUN case "$TARGETARCH" in \
      amd64) echo x86_64-unknown-linux-musl > /target ;; \
      arm64) echo aarch64-unknown-linux-musl > /target ;; \
      "") echo "TARGETARCH is unset: build with BuildKit (DOCKER_BUILDKIT=1 or docker buildx)" >&2; exit 1 ;; \
      *) echo "unsupported TARGETARCH $TARGETARCH (amd64 or arm64)" >&2; exit 1 ;; \
    esac \
 && rustup target add "$(cat /target)"

# Dependencies first, in a layer of their own: it is rebuilt only when Cargo.lock changes.
COPY Cargo.toml Cargo.lock ./
COPY .cargo .cargo
RUN mkdir src && echo 'fn main() {}' > src/main.rs \
 && cargo build --release --locked --target "$(cat /target)" \
 && rm -rf src

COPY src src
RUN touch src/main.rs \
 && cargo build --release --locked --target "$(cat /target)" \
 && cp "target/$(cat /target)/release/pos-producer" /pos-producer

# The binary must be for TARGETARCH: its ELF header's e_machine (bytes 18-19, little endian)
# says so without running it. A mismatch fails the build rather than ship the wrong binary.
# hadolint ignore=SC2046
RUN set -- $(od -An -tx1 -j18 -N2 /pos-producer) && machine="$1$2" \
 && case "$TARGETARCH:$machine" in \
      amd64:3e00|arm64:b700) ;; \
      *) echo "the binary's ELF machine is $machine, not TARGETARCH $TARGETARCH" >&2; exit 1 ;; \
    esac

# Smoke test, where the binary can run here (same architecture as the build machine).
RUN if [ "$(uname -m)" = "$(cut -d- -f1 /target)" ]; then \
      /pos-producer --version \
      && /pos-producer --dry-run --seed=1 --speedup=max --max-events=10 --stats-seconds=0 > /dev/null; \
    fi

FROM scratch
ARG VERSION=0.2.0
LABEL org.opencontainers.image.title="pos-producer" \
      org.opencontainers.image.description="Simulated point-of-sale transactions and refunds, as JSON, to Kafka" \
      org.opencontainers.image.version="$VERSION"
COPY --from=build /pos-producer /pos-producer
# The old service's settings and defaults.
ENV KAFKA_BOOTSTRAP_SERVERS=kafka:9092 \
    KAFKA_TOPIC=transactions \
    KAFKA_TOPIC_REFUNDS=refunds \
    PRODUCER_SLEEP_SECONDS=1.0 \
    REFUND_PROBABILITY=0.1
USER 65532:65532
ENTRYPOINT ["/pos-producer"]
