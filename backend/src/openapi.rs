//! The OpenAPI document, derived from the handlers and their types.

use utoipa::{
    openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
    Modify, OpenApi,
};

use crate::{analytics, gateways, ops, proxy, users};

#[derive(OpenApi)]
#[openapi(
    info(title = "Tollgate", description = "Multi-tenant AI gateway: OpenAI-compatible data plane and the control plane of the web app."),
    paths(
        users::routes::join, users::routes::login, users::routes::logout, users::routes::set_password,
        users::routes::me,
        gateways::routes::create, gateways::routes::list, gateways::routes::get, gateways::routes::update,
        gateways::routes::delete, gateways::routes::rotate_secret,
        gateways::provider_keys::routes::list, gateways::provider_keys::routes::add,
        gateways::provider_keys::routes::delete,
        analytics::routes::analytics, analytics::routes::logs, analytics::routes::export,
        proxy::routes::chat_completions, proxy::routes::messages, proxy::routes::count_tokens, proxy::routes::list_models,
        ops::healthz, ops::readyz, ops::metrics, ops::openapi,
    ),
    modifiers(&Security)
)]
pub struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "user_jwt",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
        );
        components.add_security_scheme(
            "gateway_secret",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("The gateway secret (tg-...)"))
                    .build(),
            ),
        );
    }
}
