//! Helpers for the end-to-end tests: start the real `spikewatch` binary, talk HTTP to it, make databases.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `spikewatch` process, killed if the test ends early.
pub struct Server {
    pub child: Child,
    pub http: String,
}

impl Server {
    /// Starts `spikewatch <args>` and waits until `/healthz` answers on `http` (host:port).
    pub fn start(args: &[&str], http: String) -> Server {
        let child = Command::new(env!("CARGO_BIN_EXE_spikewatch"))
            .args(args)
            .env("RUST_LOG", "info,rumqttd=warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spikewatch binary starts");
        let mut server = Server { child, http };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok((200, _)) = server.try_request("GET", "/healthz") {
                return server;
            }
            if let Some(status) = server.child.try_wait().unwrap() {
                panic!("spikewatch exited before it was ready: {status}");
            }
            assert!(Instant::now() < deadline, "spikewatch did not answer /healthz within 60 s");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn get_json(&self, path: &str) -> serde_json::Value {
        let (status, body) = self.try_request("GET", path).expect("HTTP request succeeds");
        assert_eq!(status, 200, "GET {path}: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path} is not JSON ({e}): {body}"))
    }

    pub fn get_text(&self, path: &str) -> String {
        let (status, body) = self.try_request("GET", path).expect("HTTP request succeeds");
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }

    /// One HTTP/1.1 request with `Connection: close`; returns the status and the body.
    pub fn try_request(&self, method: &str, path: &str) -> std::io::Result<(u16, String)> {
        let mut stream = TcpStream::connect(&self.http)?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.http
        )?;
        let mut response = String::new();
        stream.read_to_string(&mut response)?;
        let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
        assert!(!head.to_ascii_lowercase().contains("transfer-encoding: chunked"), "unexpected chunked body");
        let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        Ok((status, body.to_owned()))
    }

    /// Polls `check` every 200 ms until it returns Some, or panics after `limit` (a hang guard, not a timing claim).
    pub fn wait_for<T>(&mut self, what: &str, limit: Duration, mut check: impl FnMut(&Server) -> Option<T>) -> T {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(value) = check(self) {
                return value;
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("spikewatch exited while waiting for {what}: {status}");
            }
            assert!(Instant::now() < deadline, "gave up waiting for {what}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Sends `signal` (e.g. "TERM", "INT") and returns the exit status and everything printed on stdout.
    pub fn stop(mut self, signal: &str) -> (std::process::ExitStatus, String) {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill").args([&format!("-{signal}"), &pid]).status().unwrap().success());
        let deadline = Instant::now() + Duration::from_secs(60);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "spikewatch did not stop within 60 s of SIG{signal}");
            std::thread::sleep(Duration::from_millis(100));
        };
        let mut out = String::new();
        self.child.stdout.take().unwrap().read_to_string(&mut out).unwrap();
        (status, out)
    }

    /// The value of a Prometheus sample line, e.g. `spikewatch_ingest_rejected_total{reason="malformed"}`.
    pub fn metric(&self, series: &str) -> f64 {
        let text = self.get_text("/metrics");
        text.lines()
            .find_map(|line| line.strip_prefix(series).and_then(|rest| rest.strip_prefix(' ')))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no series {series} in /metrics"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free TCP port on 127.0.0.1 (free when asked; good enough for tests that start one server each).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A fresh, empty directory for one test.
pub fn temp_dir(tag: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let dir = std::env::temp_dir().join(format!("spikewatch-e2e-{tag}-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A name unique to this run, for MQTT client ids, topic roots and databases.
pub fn unique(tag: &str) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("{tag}_{}_{}", std::process::id(), nanos % 1_000_000_000)
}

/// Writes a config file for `spikewatch serve` and returns its path.
pub fn write_config(dir: &Path, body: &str) -> PathBuf {
    let path = dir.join("spikewatch.toml");
    std::fs::write(&path, body).unwrap();
    path
}

/// Publishes raw payloads at QoS 1, in order, and returns once the broker has acknowledged every one.
pub async fn publish_raw(mqtt_url: &str, messages: &[(String, Vec<u8>)]) {
    use rumqttc::{AsyncClient, Event, MqttOptions, Outgoing, Packet, QoS};
    let address = mqtt_url.strip_prefix("mqtt://").expect("plain mqtt:// URL in tests");
    let (host, port) = address.rsplit_once(':').expect("host:port");
    let mut options = MqttOptions::new(unique("raw"), host, port.parse().unwrap());
    options.set_max_packet_size(4 << 20, 4 << 20);
    let (client, mut eventloop) = AsyncClient::new(options, messages.len() + 10);
    for (topic, payload) in messages {
        client.publish(topic.clone(), QoS::AtLeastOnce, false, payload.clone()).await.unwrap();
    }
    let mut acked = 0;
    let guard = tokio::time::timeout(Duration::from_secs(60), async {
        while acked < messages.len() {
            match eventloop.poll().await {
                Ok(Event::Incoming(Packet::PubAck(_))) => acked += 1,
                Ok(Event::Outgoing(Outgoing::Disconnect)) => break,
                Ok(_) => {}
                Err(e) => panic!("publishing to {mqtt_url} failed: {e}"),
            }
        }
    });
    guard.await.expect("broker acknowledged every message within 60 s");
    client.disconnect().await.unwrap();
}

/// Loads `url` in headless Chromium (the binary named by `SPIKEWATCH_TEST_CHROMIUM`), lets its scripts run,
/// and returns the resulting DOM; None, saying so, when no browser is configured.
pub fn render_in_chromium(url: &str) -> Option<String> {
    let Ok(chromium) = std::env::var("SPIKEWATCH_TEST_CHROMIUM") else {
        eprintln!("skipped the browser check: SPIKEWATCH_TEST_CHROMIUM not set");
        return None;
    };
    let profile = temp_dir("chromium-profile");
    // The flags keep a sandboxed, offline machine quiet: no background fetches, no first-run work.
    let output = Command::new(&chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            &format!("--user-data-dir={}", profile.display()),
            "--virtual-time-budget=5000",
            "--dump-dom",
            url,
        ])
        .stderr(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("failed to run {chromium}: {e}"));
    let _ = std::fs::remove_dir_all(profile);
    assert!(output.status.success(), "chromium failed on {url}: {}", output.status);
    Some(String::from_utf8_lossy(&output.stdout).into_owned())
}
