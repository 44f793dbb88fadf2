# syntax=docker/dockerfile:1
# almacen as a drop-in for the minio/minio image: the same command line
# (`server /data --console-address ":9001"`), the same MINIO_* variables,
# the same ports, and a healthcheck that needs neither curl nor mc.
#
#   docker build -t almacen .
#   docker run -p 9000:9000 -v almacen-data:/data \
#     -e MINIO_ROOT_USER=admin -e MINIO_ROOT_PASSWORD=admin123 almacen

# --- build: one release binary ---------------------------------------------
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
# The registry and target caches survive between builds; the binary is
# copied out of the cache mount in the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p almacen \
 && install -D -m 0755 target/release/almacen /out/almacen \
 && strip /out/almacen

# --- run: a slim Debian with the binary and a non-root user ----------------
# Same Debian release as the builder, so the glibc the binary links matches.
FROM debian:bookworm-slim
# curl only because many MinIO compose files probe health with
# `curl -f http://localhost:9000/minio/health/live`: they keep working as they are.
RUN apt-get update \
 && apt-get install -y --no-install-recommends curl \
 && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 1000 almacen \
 && useradd --system --uid 1000 --gid almacen --create-home --home-dir /home/almacen \
      --shell /usr/sbin/nologin almacen \
 && mkdir -p /data \
 && chown almacen:almacen /data
COPY --from=build /out/almacen /usr/local/bin/almacen

# A named volume mounted here starts owned by the almacen user (Docker copies
# the ownership of the image's folder). A host folder bound here must be
# writable by uid 1000: `chown -R 1000:1000 ./data`.
VOLUME ["/data"]
# 9000: S3 API. 9001: console port, accepted for MinIO compatibility.
EXPOSE 9000 9001
USER almacen:almacen
WORKDIR /home/almacen
ENV RUST_LOG=info

# Ready means the metadata store and the data folder take writes. The probe
# follows MINIO_ADDRESS/ALMACEN_ADDRESS when the server listens elsewhere.
HEALTHCHECK --interval=30s --timeout=10s --start-period=10s --retries=3 \
  CMD ["almacen", "ready", "--quiet"]

# MinIO's image runs `minio ARGS`; this one runs `almacen ARGS`, so compose
# files keep their `command:` as it is.
ENTRYPOINT ["almacen"]
CMD ["server", "/data", "--console-address", ":9001"]
