//! `spikewatch demo`, as a new user runs it: nothing installed, a fault appears, Ctrl-C stops it cleanly.

use super::*;

#[test]
fn demo_shows_the_failing_pump_and_stops_on_ctrl_c() {
    let dir = temp_dir("demo");
    let http_port = free_port();
    let data_dir = dir.join("data");
    let mut server = Server::start(
        &[
            "demo",
            "--http",
            &format!("127.0.0.1:{http_port}"),
            "--mqtt-port",
            "0",
            "--data-dir",
            data_dir.to_str().unwrap(),
            "--assets",
            "2",
            "--time-scale",
            "30",
            "--fault-start-s",
            "100",
            "--fault-ramp-s",
            "60",
        ],
        format!("127.0.0.1:{http_port}"),
    );
    let alert = server.wait_for("the demo's failing pump to raise an alert", Duration::from_secs(240), |s| {
        let alerts = s.get_json("/api/v1/alerts");
        alerts["alerts"].as_array().unwrap().first().cloned()
    });
    assert_eq!(alert["asset"], "pump-2", "{alert}");
    assert!(server.get_text("/").contains("<title>spikewatch</title>"));
    let assets = server.get_json("/api/v1/assets");
    assert_eq!(assets["assets"].as_array().unwrap().len(), 2);

    let (status, stdout) = server.stop("INT");
    assert!(status.success(), "demo did not exit cleanly on Ctrl-C: {status}");
    assert!(stdout.contains(&format!("dashboard    http://127.0.0.1:{http_port}/")), "{stdout}");
    assert!(data_dir.join("spikewatch.db").exists());
    std::fs::remove_dir_all(dir).unwrap();
}
