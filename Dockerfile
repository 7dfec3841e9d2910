# syntax=docker/dockerfile:1
# pos-producer in an empty image: one static musl binary, nothing else.
#
#   docker build -t pos-producer .
#   docker buildx build --platform linux/amd64,linux/arm64 -t REGISTRY/pos-producer --push .
#
# The build stage runs on the build machine's platform and cross-compiles for the target one
# (rust-lld links; no C toolchain, no emulation needed).

FROM --platform=$BUILDPLATFORM rust:1.95-alpine AS build
ARG TARGETARCH=amd64
WORKDIR /src
RUN case "$TARGETARCH" in \
      amd64) echo x86_64-unknown-linux-musl > /target ;; \
      arm64) echo aarch64-unknown-linux-musl > /target ;; \
      *) echo "unsupported TARGETARCH $TARGETARCH" >&2; exit 1 ;; \
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

# Smoke test, where the binary can run here (same architecture as the build machine).
RUN if [ "$(uname -m)" = "$(cut -d- -f1 /target)" ]; then \
      /pos-producer --version \
      && /pos-producer --dry-run --seed=1 --speedup=max --max-events=10 --stats-seconds=0 > /dev/null; \
    fi

FROM scratch
ARG VERSION=0.1.0
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
