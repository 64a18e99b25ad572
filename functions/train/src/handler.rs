//! Routes of the `train` function onto the train workflow and the registry queries.

use std::convert::Infallible;
use std::sync::Arc;

use lambda_http::http::Method;
use lambda_http::{Body, Request, Response};
use service::http::{
    body_bytes, json_response, match_route, query_number, require_json, route_path, serve,
    RouteSpec,
};
use service::ports::{JobStore, ModelRegistry, ObjectStore};
use service::workflows::body::parse_json_body;
use service::workflows::models::{ModelQueries, VersionPage, DEFAULT_VERSIONS_PAGE};
use service::workflows::train::{TrainRequest, TrainWorkflow};
use service::{Config, ServiceError};

/// What the handler needs, built once per cold start.
#[derive(Clone)]
pub struct HandlerDeps {
    train: TrainWorkflow,
    models: ModelQueries,
    max_body_bytes: usize,
}

impl HandlerDeps {
    /// Dependencies over any object store, registry and job table adapters.
    pub fn new<O, R, J>(objects: Arc<O>, registry: Arc<R>, jobs: Arc<J>, config: &Config) -> Self
    where
        O: ObjectStore + 'static,
        R: ModelRegistry + 'static,
        J: JobStore + 'static,
    {
        Self {
            train: TrainWorkflow::new(objects, registry.clone(), jobs, config.limits()),
            models: ModelQueries::new(registry),
            max_body_bytes: config.max_body_bytes,
        }
    }
}

/// The routes this function serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    Train,
    List,
    Get,
}

fn routes() -> [RouteSpec<Route>; 3] {
    [
        RouteSpec {
            method: Method::POST,
            pattern: "/api/v1/models",
            route: Route::Train,
        },
        RouteSpec {
            method: Method::GET,
            pattern: "/api/v1/models",
            route: Route::List,
        },
        RouteSpec {
            method: Method::GET,
            pattern: "/api/v1/models/{name}",
            route: Route::Get,
        },
    ]
}

/// Answers one API Gateway request (REST v1 or HTTP v2); every failure is a JSON response.
pub async fn handle(deps: &HandlerDeps, request: Request) -> Result<Response<Body>, Infallible> {
    Ok(serve("train", request, |request| dispatch(deps, request)).await)
}

async fn dispatch(deps: &HandlerDeps, request: Request) -> Result<Response<Body>, ServiceError> {
    let matched = match_route(&routes(), request.method(), &route_path(&request))?;
    match matched.route {
        Route::Train => {
            let bytes = body_bytes(&request, deps.max_body_bytes)?;
            require_json(&request)?;
            let train: TrainRequest = parse_json_body(bytes, deps.max_body_bytes)?;
            Ok(json_response(201, &deps.train.train(train).await?))
        }
        Route::List => Ok(json_response(200, &deps.models.list_models().await?)),
        Route::Get => {
            let name = matched.params.first().map(String::as_str).unwrap_or("");
            let page = VersionPage {
                before: query_number(&request, "before")?,
                limit: query_number(&request, "limit")?.unwrap_or(DEFAULT_VERSIONS_PAGE),
            };
            Ok(json_response(
                200,
                &deps.models.get_model(name, page).await?,
            ))
        }
    }
}
