//! A private Mosquitto for tests that restart or reconfigure the broker: its own process on a free port of 127.0.0.1, with its own directory.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// `name` from PATH, or from the sbin directories Debian installs daemons to (often not on PATH).
pub fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/local/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// A Mosquitto on a free port of 127.0.0.1 with persistence in its own temporary directory.
/// Dropping it kills the process and removes the directory (kept when the test failed).
pub struct PrivateMosquitto {
    binary: PathBuf,
    /// The broker's directory: configuration, persistence file, log.
    pub dir: PathBuf,
    /// The port it listens on.
    pub port: u16,
    process: Option<Child>,
}

impl PrivateMosquitto {
    /// Starts a broker that lets anyone in.
    pub fn start(binary: PathBuf, tag: &str) -> Self {
        Self::start_with(binary, tag, |_| "allow_anonymous true\n".into())
    }

    /// Starts a broker whose access settings are `access(dir)` (a configuration fragment that
    /// may refer to files it put in the broker's directory).
    pub fn start_with(binary: PathBuf, tag: &str, access: impl FnOnce(&Path) -> String) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let dir = std::env::temp_dir().join(format!("spikewatch-{tag}-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // `user root` keeps a root-run broker from switching to the `mosquitto` user, which could
        // not write to our directory; it has no effect when the tests do not run as root.
        let config = format!(
            "listener {port} 127.0.0.1\n{}persistence true\npersistence_location {}/\n\
             max_queued_messages 100000\nuser root\nlog_dest file {}\n",
            access(&dir),
            dir.display(),
            dir.join("mosquitto.log").display()
        );
        std::fs::write(dir.join("mosquitto.conf"), config).unwrap();
        let mut broker = PrivateMosquitto { binary, dir, port, process: None };
        broker.run();
        broker
    }

    /// `mqtt://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }

    /// Starts the process and waits until the port accepts connections.
    pub fn run(&mut self) {
        let child = Command::new(&self.binary)
            .arg("-c")
            .arg(self.dir.join("mosquitto.conf"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("failed to start `{}`: {e}", self.binary.display()));
        self.process = Some(child);
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(std::time::Instant::now() < deadline, "mosquitto did not listen; see {}", self.log().display());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM, as a service manager stops it: Mosquitto saves its persistence file on the way out.
    pub fn terminate(&mut self) {
        let mut child = self.process.take().expect("mosquitto is running");
        let status = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status().unwrap();
        assert!(status.success(), "failed to signal mosquitto");
        child.wait().unwrap();
        assert!(self.dir.join("mosquitto.db").is_file(), "mosquitto saved no persistence file");
    }

    /// The broker's log file.
    pub fn log(&self) -> PathBuf {
        self.dir.join("mosquitto.log")
    }
}

impl Drop for PrivateMosquitto {
    fn drop(&mut self) {
        if let Some(mut child) = self.process.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        // A failed test keeps the broker's log and persistence file for a look.
        if std::thread::panicking() {
            eprintln!("mosquitto files kept in {}", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}
