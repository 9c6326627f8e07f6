//! Routes by resource, and the one table that builds the router and lists its routes.

pub mod auth;
pub mod docs;
pub mod health;
pub mod objects;
pub mod posts;
pub mod uploads;

use axum::extract::DefaultBodyLimit;
use axum::http::Method;
use axum::routing::{delete, get, post, put, MethodRouter};
use axum::Router;

use crate::state::AppState;

/// A router that remembers every (method, path) it serves, so tests can compare the
/// routes with the OpenAPI document.
pub struct RouteTable {
    router: Router<AppState>,
    routes: Vec<(Method, &'static str)>,
}

impl RouteTable {
    fn new() -> Self {
        RouteTable {
            router: Router::new(),
            routes: Vec::new(),
        }
    }

    fn add(mut self, method: Method, path: &'static str, handler: MethodRouter<AppState>) -> Self {
        self.routes.push((method, path));
        self.router = self.router.route(path, handler);
        self
    }

    /// The (method, path) pairs served, in axum's path syntax.
    pub fn routes(&self) -> &[(Method, &'static str)] {
        &self.routes
    }

    /// The router.
    pub fn into_router(self) -> Router<AppState> {
        self.router
    }
}

/// Every route of the REST contract. `max_upload` bounds `/objects` uploads, which skip
/// the JSON body limit.
pub fn table(max_upload: usize) -> RouteTable {
    RouteTable::new()
        .add(Method::POST, "/auth/signup", post(auth::signup))
        .add(Method::POST, "/auth/login", post(auth::login))
        .add(Method::GET, "/posts", get(posts::list))
        .add(Method::POST, "/posts", post(posts::create))
        .add(Method::GET, "/posts/{id}", get(posts::get_one))
        .add(Method::DELETE, "/posts/{id}", delete(posts::delete))
        .add(Method::GET, "/signedUrlPut", get(uploads::signed_url_put))
        .add(
            Method::GET,
            "/getSignedUrlPut",
            get(uploads::get_signed_url_put),
        )
        .add(
            Method::PUT,
            "/objects/{*key}",
            put(objects::put_object).layer(DefaultBodyLimit::max(max_upload.saturating_add(1))),
        )
        .add(Method::GET, "/objects/{*key}", get(objects::get_object))
        .add(Method::GET, "/healthz", get(health::healthz))
        .add(Method::GET, "/readyz", get(health::readyz))
        .add(Method::GET, "/metrics", get(health::metrics))
        .add(Method::GET, "/openapi.json", get(docs::openapi_json))
        .add(Method::GET, "/docs", get(docs::docs_page))
}
