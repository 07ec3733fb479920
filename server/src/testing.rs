//! Support for the tests of this crate and of `tests/` (end to end): fresh databases on a real server.

/// Creates an empty database on the Postgres server behind `admin_url` (a URL ending in a database name,
/// e.g. `postgres://postgres@127.0.0.1:5432/postgres`) and returns the new database's URL.
pub async fn fresh_postgres_database(admin_url: &str, tag: &str) -> String {
    sqlx::any::install_default_drivers();
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
    let name = format!("spikewatch_test_{tag}_{}_{}", std::process::id(), nanos % 1_000_000_000);
    let admin = sqlx::AnyPool::connect(admin_url).await.expect("SPIKEWATCH_TEST_DATABASE_URL must be reachable");
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&admin).await.expect("test database is created");
    admin.close().await;
    let base = admin_url.rsplit_once('/').map_or(admin_url, |(base, _)| base);
    format!("{base}/{name}")
}
