//! The ceiling of the API benchmark: a minimal axum JSON handler on the same machine,
//! same runtime and same build profile. `bench_ceiling <addr>`

use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:18999".into());
    let app = Router::new().route(
        "/posts",
        get(|| async { Json(json!([{"id": "POST#x", "title": "hello"}])) }),
    );
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    axum::serve(listener, app).await?;
    Ok(())
}
