# Builds the spikewatch binary; used by docker-compose.yml.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p spikewatch

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/spikewatch /usr/local/bin/spikewatch
EXPOSE 8080
ENTRYPOINT ["spikewatch"]
