//! Polling with a hang guard, for tests that wait on a condition instead of asserting a duration.

use std::time::Duration;

/// Hang guard for every wait; not a timed assertion.
pub const GUARD: Duration = Duration::from_secs(90);

/// Polls `done` every 20 ms until it is true; fails the test naming `what` after [`GUARD`].
pub async fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    tokio::time::timeout(GUARD, async {
        while !done() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("timed out waiting until {what}"));
}
