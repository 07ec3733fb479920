//! The operator dashboard: one self-contained page (no external assets, so it works on an isolated plant
//! network) that reads the JSON API.

use axum::response::Html;

pub async fn page() -> Html<&'static str> {
    Html(include_str!("dashboard.html"))
}
