# Build: docker build -t dane_exporter .
# Demo:  docker run -p 127.0.0.1:9724:9724 dane_exporter     (the default command: docs/demo.md)
# Yours: docker run -p 9724:9724 -v dane-data:/var/lib/dane_exporter \
#          -v $PWD/dane_exporter.yml:/etc/dane_exporter/dane_exporter.yml:ro \
#          dane_exporter --config.file=/etc/dane_exporter/dane_exporter.yml \
#          --storage.path=/var/lib/dane_exporter
# The demo's DNS and mail servers stay inside the container, on its loopback; only its web port is
# published. The image's own configuration (packaging/docker.yml) probes nothing until you mount
# yours (examples/dane_exporter.yml documents every key). /var/lib/dane_exporter holds the
# database (history across restarts, TLS-RPT reports): keep it on a volume.
FROM rust:1-bookworm AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends libssl-dev pkg-config \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin dane_exporter \
    && ./target/release/dane_exporter man > dane_exporter.1

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates libssl3 \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/dane_exporter /usr/local/bin/dane_exporter
COPY --from=build /src/dane_exporter.1 /usr/local/share/man/man1/dane_exporter.1
COPY packaging/docker.yml /etc/dane_exporter/dane_exporter.yml
RUN mkdir -p /var/lib/dane_exporter && chown nobody /var/lib/dane_exporter
VOLUME /var/lib/dane_exporter
USER nobody
EXPOSE 9724
ENTRYPOINT ["/usr/local/bin/dane_exporter"]
CMD ["--web.listen-address=:9724", "demo"]
