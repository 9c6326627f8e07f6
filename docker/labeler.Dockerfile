# syntax=docker/dockerfile:1
# postagram-labeler image. Build from the repository root:
#   docker build -f docker/labeler.Dockerfile -t ghcr.io/postagram/postagram-labeler:0.1.0 .
# Multi-stage: compile in the Rust image, run on distroless (glibc, no shell) as UID 65532.
# Built with the `aws` feature: the operator runs this image in both storage modes
# (its default command is `worker --source sqs`); the AWS SDK needs Rust >= 1.94.1.

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p postagram-labeler --bin postagram-labeler --features aws \
 && install -D target/release/postagram-labeler /out/postagram-labeler

# The local detector's weights (EfficientNet-Lite0), converted by the project's script.
FROM python:3.12-slim-bookworm AS model
WORKDIR /src
COPY scripts/fetch-model.sh scripts/fetch-model.sh
COPY models/ models/
COPY tools/ tools/
RUN bash scripts/fetch-model.sh && install -D models/efficientnet-lite0.safetensors /out/models/efficientnet-lite0.safetensors

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/postagram-labeler /usr/local/bin/postagram-labeler
COPY --from=model /out/models /models
ENV POSTAGRAM_MODEL_PATH=/models/efficientnet-lite0.safetensors
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/postagram-labeler"]
CMD ["worker", "--source", "sqs"]
