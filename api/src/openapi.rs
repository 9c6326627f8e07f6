//! The OpenAPI 3.1 document, generated from the handlers' annotations.

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::routes;

/// The API description served at `/openapi.json`.
#[derive(OpenApi)]
#[openapi(
    info(title = "Postagram API", description = "Posts with pictures, labelled automatically. Compatible with the original Postagram course web app."),
    paths(
        routes::auth::signup,
        routes::auth::login,
        routes::posts::list,
        routes::posts::create,
        routes::posts::get_one,
        routes::posts::delete,
        routes::uploads::signed_url_put,
        routes::uploads::get_signed_url_put,
        routes::objects::put_object,
        routes::objects::get_object,
        routes::health::healthz,
        routes::health::readyz,
        routes::health::metrics,
        routes::docs::openapi_json,
        routes::docs::docs_page,
    ),
    components(schemas(
        postagram_core::wire::PostView,
        postagram_core::wire::NewPost,
        postagram_core::wire::Credentials,
        postagram_core::wire::UserView,
        postagram_core::wire::TokenView,
        postagram_core::wire::SignedUrlView,
        postagram_core::wire::ErrorBody,
        postagram_core::Label,
        postagram_core::LabelStatus,
    )),
    modifiers(&BearerAuth),
    tags(
        (name = "auth", description = "accounts and tokens"),
        (name = "posts", description = "posts"),
        (name = "pictures", description = "picture upload and download"),
        (name = "ops", description = "probes, metrics, documentation"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut http = Http::new(HttpAuthScheme::Bearer);
        http.bearer_format = Some("JWT".into());
        components.add_security_scheme("bearer", SecurityScheme::Http(http));
    }
}
