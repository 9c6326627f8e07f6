//! The document-level parts of the OpenAPI 3.1 document (info, tags, the bearer scheme,
//! the modifiers that edit operations). The operations themselves come from the routes
//! (`crate::routes`, utoipa-axum's `routes!`), each declared once on its handler.

use postagram_core::schemas;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{Object, PathItem};
use utoipa::{Modify, OpenApi};

/// What the document says besides its operations; [`document`] adds those. No
/// `components(schemas(...))`: `routes!` collects every schema a route names (request
/// and response bodies, and the types they contain), so none is listed twice.
#[derive(OpenApi)]
#[openapi(
    info(title = "Postagram API", description = "Posts with pictures, labelled automatically. Compatible with the original Postagram course web app."),
    modifiers(&BearerAuth),
    tags(
        (name = "auth", description = "accounts and tokens"),
        (name = "posts", description = "posts"),
        (name = "pictures", description = "picture upload and download"),
        (name = "ops", description = "probes, metrics, documentation"),
        (name = "users", description = "your account: password change, deletion"),
    )
)]
pub struct ApiDoc;

/// The document served at `/openapi.json`: [`ApiDoc`] with the operations (and the
/// schemas they name) of `routes`, then the modifiers that edit operations, which
/// `#[openapi(modifiers(...))]` would run before the routes' operations are there.
pub fn document(routes: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.merge(routes);
    let modifiers: [&dyn Modify; 3] = [&CatchAllPaths, &BodyReadTimeout, &ParamSchemas];
    for modifier in modifiers {
        modifier.modify(&mut doc);
    }
    doc
}

/// Writes axum's catch-all segments (`/objects/{*key}`, the path the router is given) as
/// OpenAPI path templates (`/objects/{key}`): one path declared for both.
pub struct CatchAllPaths;

impl Modify for CatchAllPaths {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let paths = std::mem::take(&mut openapi.paths.paths);
        for (path, item) in paths {
            let path = path.replace("{*", "{");
            match openapi.paths.paths.get_mut(&path) {
                Some(existing) => existing.merge_operations(item),
                None => {
                    openapi.paths.paths.insert(path, item);
                }
            }
        }
    }
}

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut http = Http::new(HttpAuthScheme::Bearer);
        http.bearer_format = Some("JWT".into());
        http.description = Some(format!(
            "`Authorization: Bearer <JWT>` from `POST /auth/login` (auth mode `jwt`). In auth mode \
             `header` the header holds the username itself (optionally after `Bearer `), as the \
             course web app sends it: 1–{} characters, spaces, `@` and non-ASCII letters allowed, \
             no control or bidirectional formatting characters; bytes are read as UTF-8 when \
             valid, else as Latin-1 (what browsers send); any case names the same account, \
             created on first use.",
            postagram_core::validate::HEADER_USERNAME_MAX
        ));
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

/// Sets the schemas of the constrained parameters from `postagram_core::schemas` (built
/// from the validators' constants). utoipa's `IntoParams` drops `required` and the
/// description of a field with `schema_with`, and tuple `params(...)` take only literal
/// patterns, so the derives declare which parameters exist (and whether they are
/// required) and this fills in their schemas.
pub struct ParamSchemas;

/// The schema of parameter `name` (in `location`) of `path`, when it is constrained.
fn param_schema(path: &str, location: &ParameterIn, name: &str) -> Option<Object> {
    Some(match (path, location, name) {
        ("/posts", ParameterIn::Query, "limit") => schemas::limit(),
        ("/posts", ParameterIn::Query, "cursor") => schemas::cursor(),
        ("/posts/{id}", ParameterIn::Path, "id") => schemas::post_id_param(),
        ("/signedUrlPut" | "/getSignedUrlPut", ParameterIn::Query, "postId") => {
            schemas::post_id_param()
        }
        ("/signedUrlPut" | "/getSignedUrlPut", ParameterIn::Query, "filename") => {
            schemas::filename()
        }
        ("/signedUrlPut" | "/getSignedUrlPut", ParameterIn::Query, "filetype") => {
            schemas::filetype()
        }
        _ => return None,
    })
}

fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.options,
        &mut item.head,
        &mut item.patch,
        &mut item.trace,
    ]
    .into_iter()
    .flatten()
}

impl Modify for ParamSchemas {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            for op in operations(item) {
                for p in op.parameters.iter_mut().flatten() {
                    if let Some(schema) = param_schema(path, &p.parameter_in, &p.name) {
                        p.schema = Some(schema.into());
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use postagram_core::store::{DEFAULT_PAGE, MAX_PAGE};
    use postagram_core::validate::{
        BODY_MAX, PASSWORD_MAX, PASSWORD_MIN, TITLE_MAX, USERNAME_MAX, USERNAME_MIN,
    };
    use serde_json::{json, Value};

    use super::*;

    fn doc() -> Value {
        serde_json::to_value(crate::routes::table(1).split().1).expect("document")
    }

    fn param(doc: &Value, path: &str, method: &str, name: &str) -> Value {
        doc["paths"][path][method]["parameters"]
            .as_array()
            .expect("parameters")
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("{method} {path} has no parameter {name}"))
            .clone()
    }

    #[test]
    fn the_documented_bounds_are_the_validators_constants() {
        let d = doc();
        let s = &d["components"]["schemas"];
        let len = |schema: &str, field: &str| {
            let f = &s[schema]["properties"][field];
            (f["minLength"].as_u64(), f["maxLength"].as_u64())
        };
        let n = |v: usize| Some(v as u64);
        assert_eq!(len("NewPost", "title"), (n(1), n(TITLE_MAX)));
        assert_eq!(len("NewPost", "body"), (n(1), n(BODY_MAX)));
        assert_eq!(len("PostView", "title"), (n(1), n(TITLE_MAX)));
        assert_eq!(
            len("Credentials", "username"),
            (n(USERNAME_MIN), n(USERNAME_MAX))
        );
        assert_eq!(
            len("Credentials", "password"),
            (n(PASSWORD_MIN), n(PASSWORD_MAX))
        );
        assert_eq!(
            s["Credentials"]["properties"]["username"]["pattern"],
            schemas::USERNAME_PATTERN
        );
        let limit = param(&d, "/posts", "get", "limit");
        assert_eq!(limit["required"], false);
        assert_eq!(limit["schema"]["type"], "integer");
        assert_eq!(limit["schema"]["minimum"], 1);
        assert_eq!(limit["schema"]["maximum"], json!(MAX_PAGE));
        assert_eq!(limit["schema"]["default"], json!(DEFAULT_PAGE));
        let cursor = param(&d, "/posts", "get", "cursor");
        assert_eq!(cursor["schema"]["pattern"], schemas::cursor_pattern());
    }

    #[test]
    fn constrained_parameters_keep_their_required_flag_and_description() {
        let d = doc();
        for path in ["/signedUrlPut", "/getSignedUrlPut"] {
            for name in ["filename", "filetype", "postId"] {
                let p = param(&d, path, "get", name);
                assert_eq!(p["required"], true, "{path} {name}");
                assert!(p["description"].is_string(), "{path} {name}");
                assert!(p["schema"]["enum"].is_array() || p["schema"]["pattern"].is_string());
            }
            assert_eq!(
                param(&d, path, "get", "filetype")["schema"]["enum"],
                json!(["image/jpeg", "image/png", "image/webp", "image/gif"])
            );
        }
        for method in ["get", "delete"] {
            let id = param(&d, "/posts/{id}", method, "id");
            assert_eq!(id["required"], true);
            assert_eq!(
                id["schema"]["pattern"],
                schemas::post_id_param().pattern.expect("pattern")
            );
        }
        // Every (path, parameter) the modifier knows is in the document: a renamed
        // parameter cannot silently lose its constraints.
        for (path, method, name) in [
            ("/posts", "get", "limit"),
            ("/posts", "get", "cursor"),
            ("/posts/{id}", "get", "id"),
        ] {
            assert!(param(&d, path, method, name)["schema"].is_object());
        }
    }

    #[test]
    fn catch_all_routes_are_documented_as_path_templates() {
        let d = doc();
        let paths = d["paths"].as_object().expect("paths");
        assert!(
            paths.keys().all(|p| !p.contains("{*")),
            "{:?}",
            paths.keys()
        );
        for method in ["put", "get"] {
            let key = param(&d, "/objects/{key}", method, "key");
            assert_eq!(key["in"], "path");
            assert_eq!(key["required"], true);
        }
    }

    #[test]
    fn login_and_signup_declare_413() {
        let d = doc();
        for path in ["/auth/signup", "/auth/login", "/posts"] {
            assert!(
                d["paths"][path]["post"]["responses"]["413"].is_object(),
                "{path}"
            );
        }
    }
}
