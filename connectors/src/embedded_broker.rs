//! An in-process MQTT broker (rumqttd) for `spikewatch demo` and tests: no external service needed.

use rumqttd::{Broker, Config, ConnectionSettings, RouterConfig, ServerSettings};
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};
use thiserror::Error;
use tracing::{error, info};

/// How long to wait for the broker thread to accept TCP connections.
const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the embedded broker did not come up.
#[derive(Debug, Error)]
pub enum BrokerError {
    /// No free port could be found.
    #[error("failed to pick a free port for the embedded mqtt broker")]
    PickPort(#[source] std::io::Error),
    /// The broker thread could not be spawned.
    #[error("failed to spawn the embedded mqtt broker thread")]
    Spawn(#[source] std::io::Error),
    /// The port never accepted connections.
    #[error("embedded mqtt broker on 127.0.0.1:{port} did not accept connections within {secs} s")]
    NotReady { port: u16, secs: u64 },
}

/// A running embedded broker. It lives until the process exits: rumqttd has no graceful shutdown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmbeddedBroker {
    /// The TCP port it listens on, on 127.0.0.1.
    pub port: u16,
}

impl EmbeddedBroker {
    /// `mqtt://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }
}

/// Starts rumqttd on 127.0.0.1:`port` (port 0 picks a free port first) on its own OS thread
/// (`Broker::start` blocks forever and builds its own runtimes), then waits until it
/// answers an MQTT CONNECT (error after ~10 s). MQTT 3.1.1 only, no TLS, no auth, payloads up to
/// 16 MiB, persistent sessions kept in memory.
pub fn start_embedded_broker(port: u16) -> Result<EmbeddedBroker, BrokerError> {
    let port = if port == 0 { pick_free_port().map_err(BrokerError::PickPort)? } else { port };
    let config = broker_config(port);
    std::thread::Builder::new()
        .name(format!("rumqttd-{port}"))
        .spawn(move || {
            let mut broker = Broker::new(config);
            if let Err(e) = broker.start() {
                error!(port, error = %e, "embedded mqtt broker stopped");
            }
        })
        .map_err(BrokerError::Spawn)?;
    let deadline = Instant::now() + READY_TIMEOUT;
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    while !answers_mqtt_connect(&addr) {
        if Instant::now() >= deadline {
            return Err(BrokerError::NotReady { port, secs: READY_TIMEOUT.as_secs() });
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    info!(port, "embedded mqtt broker listening");
    Ok(EmbeddedBroker { port })
}

/// True when the broker answers an MQTT 3.1.1 CONNECT with a successful CONNACK. A bare TCP probe would
/// do, but rumqttd logs every connection that closes before CONNECT as an error, which would greet every
/// demo user with a false alarm.
fn answers_mqtt_connect(addr: &SocketAddr) -> bool {
    const CLIENT_ID: &[u8] = b"spikewatch-ready";
    let mut connect = vec![0x10, 12 + CLIENT_ID.len() as u8, 0, 4, b'M', b'Q', b'T', b'T', 4, 0x02, 0, 10, 0];
    connect.push(CLIENT_ID.len() as u8);
    connect.extend_from_slice(CLIENT_ID);
    let exchange = || -> std::io::Result<bool> {
        let mut stream = TcpStream::connect_timeout(addr, Duration::from_millis(200))?;
        stream.set_read_timeout(Some(Duration::from_secs(1)))?;
        stream.write_all(&connect)?;
        let mut connack = [0u8; 4];
        stream.read_exact(&mut connack)?;
        stream.write_all(&[0xE0, 0])?; // DISCONNECT
        Ok(connack == [0x20, 2, 0, 0])
    };
    exchange().unwrap_or(false)
}

/// Binds port 0 to let the OS choose, then releases it for the broker. Another process could
/// grab it in between; on a test machine that race is rare enough, and the ready-wait reports it.
fn pick_free_port() -> std::io::Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(listener.local_addr()?.port())
}

fn broker_config(port: u16) -> Config {
    // rumqttd deserialises these from TOML normally, so it has no defaults: set every field.
    let connections = ConnectionSettings {
        connection_timeout_ms: 60_000,
        max_payload_size: 16 * 1024 * 1024,
        max_inflight_count: 500,
        auth: None,
        external_auth: None,
        dynamic_filters: true,
    };
    let server = ServerSettings {
        name: format!("v4-{port}"),
        listen: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
        tls: None,
        next_connection_delay_ms: 1,
        connections,
    };
    let router = RouterConfig {
        max_connections: 10_010,
        max_outgoing_packet_count: 200,
        // A segment must hold the largest message; windows are tens of kB, the limit 16 MiB.
        max_segment_size: 32 * 1024 * 1024,
        max_segment_count: 10,
        custom_segment: None,
        initialized_filters: None,
        shared_subscriptions_strategy: Default::default(),
    };
    Config { id: 0, router, v4: Some(HashMap::from([("1".to_owned(), server)])), ..Config::default() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_on_a_free_port_and_accepts_tcp() {
        let broker = start_embedded_broker(0).unwrap();
        assert_ne!(broker.port, 0);
        assert_eq!(broker.url(), format!("mqtt://127.0.0.1:{}", broker.port));
        assert!(TcpStream::connect((Ipv4Addr::LOCALHOST, broker.port)).is_ok());
    }
}
