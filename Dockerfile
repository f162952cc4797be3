# syntax=docker/dockerfile:1
# Cosmonaut's container image: the `cosmonaut` binary on a slim Debian, run
# as an unprivileged user, with its data dir on a volume.
#
#   docker build -t cosmonaut .
#   docker run -d --name cosmonaut -p 8081:8081 -v cosmonaut-data:/data cosmonaut
#
# docs/operations.md ("Deployment") explains the settings.

# The workspace's minimum Rust version; bookworm matches the runtime stage's
# C library.
FROM rust:1.90-bookworm AS builder
WORKDIR /src
COPY . .
# The same build CI does. The caches keep crates and compiled dependencies
# between builds; the binary is copied out of the cached target dir because
# a cache mount is not part of the image.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p cosmonaut \
    && install -m 0755 target/release/cosmonaut /usr/local/bin/cosmonaut

FROM debian:bookworm-slim
# ca-certificates: backups to Azure Blob Storage and S3 go over HTTPS.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 10001 cosmonaut \
    && useradd --uid 10001 --gid 10001 --home-dir /data --no-create-home \
       --shell /usr/sbin/nologin cosmonaut \
    && mkdir /data \
    && chown 10001:10001 /data
COPY --from=builder /usr/local/bin/cosmonaut /usr/local/bin/cosmonaut

LABEL org.opencontainers.image.title="cosmonaut" \
      org.opencontainers.image.description="A document database speaking the Azure Cosmos DB for NoSQL wire protocol" \
      org.opencontainers.image.licenses="MIT"

# The database, its write-ahead log, the keys and the TLS certificate. A
# new named volume copies /data's owner from the image, so the server can
# write to it without running as root.
ENV COSMONAUT_DATA_DIR=/data \
    COSMONAUT_BIND=0.0.0.0
VOLUME /data
# HTTPS: the Cosmos DB API, /health/live, /health/ready and /metrics.
EXPOSE 8081
# The MongoDB wire protocol over TLS, when asked for with
# COSMONAUT_MONGO_PORT=10255 (or `serve --mongo-port 10255`); off by default.
EXPOSE 10255
# A numeric user, so that Kubernetes' runAsNonRoot can check it.
USER 10001:10001
WORKDIR /data

# `cosmonaut health` asks https://localhost:8081/health/ready (accepting
# the self-signed certificate) and exits 0 on 200. The start period covers
# a restore from backup into an empty data dir.
HEALTHCHECK --interval=10s --timeout=6s --start-period=60s --retries=3 \
    CMD ["cosmonaut", "health"]

# SIGTERM (what `docker stop` sends) drains requests, commits what is
# queued, releases the backup lease and exits 0.
ENTRYPOINT ["cosmonaut"]
CMD ["serve"]
