//! Routes by resource. Each `routes/<resource>.rs` has a `router()` that registers its
//! handlers with utoipa-axum's `routes!`: a route is declared once, by the
//! `#[utoipa::path]` on its handler, and that one declaration is both the router's path
//! and method and the OpenAPI operation. [`table`] joins the resources.
//!
//! One `routes!` per path: utoipa-axum routes every handler of one `routes!` at every
//! path they document, so `routes!(get_one, delete)` (both `/posts/{id}`) is right and
//! `routes!(list, delete)` would serve `GET` and `DELETE` at both `/posts` and
//! `/posts/{id}` (and `routes!(list, get_one)` panic at start: two `GET`s on one path).

pub mod auth;
pub mod docs;
pub mod health;
pub mod objects;
pub mod posts;
pub mod uploads;
pub mod users;

use axum::http::Method;
use axum::Router;
use utoipa::openapi::{OpenApi, PathItem};
use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

/// Every route of the REST contract, with the OpenAPI paths `routes!` collected for it.
pub struct RouteTable {
    router: OpenApiRouter<AppState>,
    routes: Vec<(Method, String)>,
}

impl RouteTable {
    /// The (method, path) pairs served, in axum's path syntax (`/objects/{*key}`), so tests
    /// can compare them with the served document. Read from the paths `routes!`
    /// registered: utoipa-axum routes exactly the paths it documents, and no route here is
    /// added any other way.
    pub fn routes(&self) -> &[(Method, String)] {
        &self.routes
    }

    /// The router, and the finished OpenAPI document of its routes
    /// ([`crate::openapi::document`]).
    pub fn split(self) -> (Router<AppState>, OpenApi) {
        let (router, paths) = self.router.split_for_parts();
        (router, crate::openapi::document(paths))
    }
}

/// The methods of `item` that have an operation.
fn methods(item: &PathItem) -> impl Iterator<Item = Method> + '_ {
    [
        (Method::GET, &item.get),
        (Method::PUT, &item.put),
        (Method::POST, &item.post),
        (Method::DELETE, &item.delete),
        (Method::OPTIONS, &item.options),
        (Method::HEAD, &item.head),
        (Method::PATCH, &item.patch),
        (Method::TRACE, &item.trace),
    ]
    .into_iter()
    .filter(|(_, op)| op.is_some())
    .map(|(method, _)| method)
}

/// Every route of the REST contract. `max_upload` bounds `/objects` uploads, which skip
/// the JSON body limit.
pub fn table(max_upload: usize) -> RouteTable {
    let router = OpenApiRouter::default()
        .merge(auth::router())
        .merge(posts::router())
        .merge(uploads::router())
        .merge(objects::router(max_upload))
        .merge(health::router())
        .merge(docs::router())
        .merge(users::router());
    let routes = router
        .get_openapi()
        .paths
        .paths
        .iter()
        .flat_map(|(path, item)| methods(item).map(move |m| (m, path.clone())))
        .collect();
    RouteTable { router, routes }
}
