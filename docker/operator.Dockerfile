# syntax=docker/dockerfile:1
# postagram-operator image. Build from the repository root:
#   docker build -f docker/operator.Dockerfile -t ghcr.io/postagram/postagram-operator:0.1.0 .
# Multi-stage: compile in the Rust image, run on distroless (glibc, no shell) as UID 65532.

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p postagram-operator --bin postagram-operator \
 && install -D target/release/postagram-operator /out/postagram-operator

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/postagram-operator /usr/local/bin/postagram-operator
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/postagram-operator"]
CMD ["run"]
