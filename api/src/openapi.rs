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
    modifiers(&BearerAuth, &BodyReadTimeout),
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

/// Declares the 408 of the body read timeout (`crate::limits::body`) on every operation
/// that takes a request body: one place for a status every such route can return.
struct BodyReadTimeout;

impl Modify for BodyReadTimeout {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        let response = ResponseBuilder::new()
            .description(
                "the request body stalled longer than the body read timeout (`request_timeout`)",
            )
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("ErrorBody")))
                    .build(),
            )
            .build();
        for item in openapi.paths.paths.values_mut() {
            let operations = [&mut item.post, &mut item.put, &mut item.patch];
            for op in operations.into_iter().flatten() {
                if op.request_body.is_some() {
                    op.responses
                        .responses
                        .entry("408".into())
                        .or_insert_with(|| response.clone().into());
                }
            }
        }
    }
}
