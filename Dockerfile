# The `weir` controller image: built from this repository in a Rust image, run from a slim
# Debian image as a non-root user. Not built on the development machine (no container
# runtime there); the install manifests expect it as <registry>/weir:v<version>.
#
#   docker build -t ghcr.io/weir-gitops/weir:v0.1.0 .

FROM rust:1-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends libssl-dev pkg-config protobuf-compiler \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin weir \
 && strip target/release/weir

FROM debian:bookworm-slim
# libssl3: libgit2 uses the system OpenSSL; ca-certificates: HTTPS Git servers.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libssl3 ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/weir /usr/local/bin/weir
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/weir"]
CMD ["controller"]
