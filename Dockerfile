# Integration Hub (`ihub`) container image.
#
#   docker build -t ihub .
#   docker run --rm -p 2575:2575 -p 8080:8080 -v ihub-data:/srv/ihub/data ihub
#
# Channels, scripts and certificates are volumes: mount your own over the copies baked in here.

# ---- build ---------------------------------------------------------------------------------
FROM rust:1.95-slim-bookworm AS builder
WORKDIR /build

# Dependencies first, against placeholder sources, so that a change to our code does not
# rebuild them. Cargo needs every target the manifest declares to exist, hence the stubs.
COPY Cargo.toml Cargo.lock ./
RUN mkdir -p src benches tests \
    && echo 'fn main() {}' > src/main.rs \
    && touch src/lib.rs \
    && echo 'fn main() {}' > benches/hl7_parse.rs \
    && touch tests/tests.rs \
    && cargo build --locked --release \
    && rm -rf src benches tests

COPY src ./src
COPY benches ./benches
COPY tests ./tests
# COPY may keep modification times older than the stubs' build; touch so cargo rebuilds our crate.
RUN touch src/main.rs src/lib.rs \
    && cargo build --locked --release \
    && cp target/release/ihub /usr/local/bin/ihub

# ---- runtime -------------------------------------------------------------------------------
FROM debian:bookworm-slim

RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 ihub \
    && useradd --system --uid 10001 --gid ihub --home-dir /srv/ihub --no-create-home \
        --shell /usr/sbin/nologin ihub

COPY --from=builder /usr/local/bin/ihub /usr/local/bin/ihub

WORKDIR /srv/ihub
COPY --chown=ihub:ihub channels/ ./channels/
COPY --chown=ihub:ihub scripts/ ./scripts/
COPY --chown=ihub:ihub mappings/ ./mappings/
COPY --chown=ihub:ihub certs/ ./certs/
COPY --chown=ihub:ihub samples/ ./samples/
RUN mkdir -p data out && chown ihub:ihub /srv/ihub data out

USER ihub
VOLUME ["/srv/ihub/channels", "/srv/ihub/scripts", "/srv/ihub/mappings", "/srv/ihub/certs", "/srv/ihub/data"]

# 2575: MLLP (the registered HL7 port); 8080: HTTP API.
EXPOSE 2575 8080

# `docker stop` sends SIGTERM straight to ihub: the exec-form ENTRYPOINT makes it PID 1.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/ihub"]
# Inside a container the API must listen on every interface to be reachable; channel files
# mounted into /srv/ihub/channels should likewise use `listen = "0.0.0.0:PORT"`.
CMD ["run", "--api", "0.0.0.0:8080"]
