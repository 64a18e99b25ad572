//! A function's route table matched against a method and path: the route and its decoded path
//! parameters, or 404 for an unknown path and 405 (naming the allowed methods) for a known path
//! with the wrong method.

use lambda_http::http::Method;

use application::domain::{Principal, Scope, Tenant};
use application::ServiceError;

use crate::access::RouteAccess;
use crate::http::idempotent::Idempotent;

/// One route: a method and a pattern whose `{param}` segments match any one segment.
#[derive(Debug, Clone)]
pub struct RouteSpec<R> {
    /// The method served.
    pub method: Method,
    /// The path pattern, e.g. `/api/v1/models/{name}`.
    pub pattern: &'static str,
    /// Who may call it.
    pub access: RouteAccess,
    /// What the handler dispatches on.
    pub route: R,
    /// Whether the route honours `Idempotency-Key` (creating `POST`s), and how.
    pub idempotent: Option<Idempotent>,
}

impl<R> RouteSpec<R> {
    /// `route` served for `method` on `pattern` to callers holding `scope`.
    pub fn new(method: Method, pattern: &'static str, scope: Scope, route: R) -> Self {
        Self {
            method,
            pattern,
            access: RouteAccess::Requires(scope),
            route,
            idempotent: None,
        }
    }

    /// The same route honouring `Idempotency-Key`, never keeping the `redact` fields of its
    /// answer.
    pub fn idempotent(mut self, redact: &'static [&'static str]) -> Self {
        self.idempotent = Some(Idempotent { redact });
        self
    }

    /// `route` served for `method` on `pattern` to anyone (health checks).
    pub fn public(method: Method, pattern: &'static str, route: R) -> Self {
        Self {
            method,
            pattern,
            access: RouteAccess::Public,
            route,
            idempotent: None,
        }
    }
}

/// A matched route, its path parameters, percent-decoded, in pattern order, and its caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matched<R> {
    /// The route matched.
    pub route: R,
    /// Path parameter values.
    pub params: Vec<String>,
    /// Who the route requires.
    pub access: RouteAccess,
    /// The admitted caller of a tenant route (`None` on public routes).
    pub caller: Option<Principal>,
    /// Whether the route honours `Idempotency-Key`.
    pub idempotent: Option<Idempotent>,
}

impl<R> Matched<R> {
    /// The admitted caller; a tenant route always has one (401 otherwise, as a last guard).
    pub fn caller(&self) -> Result<&Principal, ServiceError> {
        self.caller.as_ref().ok_or_else(|| {
            ServiceError::Unauthenticated("the request carries no authenticated tenant".into())
        })
    }

    /// The caller's tenant, which every read and write of the route is confined to.
    pub fn tenant(&self) -> Result<&Tenant, ServiceError> {
        Ok(&self.caller()?.tenant)
    }

    /// The first path parameter (`""` when the pattern has none).
    pub fn param(&self) -> &str {
        self.params.first().map(String::as_str).unwrap_or("")
    }
}

/// Finds the route serving `method` on `path`.
pub fn match_route<R: Copy>(
    routes: &[RouteSpec<R>],
    method: &Method,
    path: &str,
) -> Result<Matched<R>, ServiceError> {
    let mut allowed: Vec<&str> = Vec::new();
    for spec in routes {
        let Some(params) = match_pattern(spec.pattern, path)? else {
            continue;
        };
        if spec.method == *method {
            return Ok(Matched {
                route: spec.route,
                params,
                access: spec.access,
                caller: None,
                idempotent: spec.idempotent,
            });
        }
        allowed.push(spec.method.as_str());
    }
    if allowed.is_empty() {
        return Err(ServiceError::RouteNotFound(
            path.chars()
                .take(200)
                .collect::<String>()
                .escape_default()
                .to_string(),
        ));
    }
    Err(ServiceError::MethodNotAllowed {
        method: method.as_str().to_owned(),
        allowed: allowed.join(", "),
    })
}

/// The parameters when `path` matches `pattern` (a trailing `/` is ignored), `None` otherwise.
fn match_pattern(pattern: &str, path: &str) -> Result<Option<Vec<String>>, ServiceError> {
    let trim = |p: &str| -> String {
        let t = p.trim_end_matches('/');
        if t.is_empty() {
            "/".to_owned()
        } else {
            t.to_owned()
        }
    };
    let (pattern, path) = (trim(pattern), trim(path));
    let mut wanted = pattern.split('/');
    let mut given = path.split('/');
    let mut params = Vec::new();
    loop {
        match (wanted.next(), given.next()) {
            (None, None) => return Ok(Some(params)),
            (Some(w), Some(g)) if w.starts_with('{') && w.ends_with('}') => {
                if g.is_empty() {
                    return Ok(None);
                }
                params.push(percent_decode(g)?);
            }
            (Some(w), Some(g)) if w == g => {}
            _ => return Ok(None),
        }
    }
}

/// Decodes `%XX` escapes in a path segment; a bad escape or non-UTF-8 result is a 400.
fn percent_decode(segment: &str) -> Result<String, ServiceError> {
    let bad =
        || ServiceError::BadRequest("path parameter is not valid percent-encoded UTF-8".into());
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = bytes.get(i + 1..i + 3).ok_or_else(bad)?;
            let hex = std::str::from_utf8(hex).map_err(|_| bad())?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| bad())?);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum R {
        List,
        Get,
    }

    fn routes() -> Vec<RouteSpec<R>> {
        vec![
            RouteSpec::public(Method::GET, "/api/v1/models", R::List),
            RouteSpec::new(Method::GET, "/api/v1/models/{name}", Scope::Read, R::Get),
        ]
    }

    #[test]
    fn when_path_matches_should_return_route_and_decoded_params() {
        let m = match_route(&routes(), &Method::GET, "/api/v1/models/..%2Fx").unwrap();
        assert_eq!(m.route, R::Get);
        assert_eq!(m.access, RouteAccess::Requires(Scope::Read));
        assert_eq!(m.tenant().unwrap_err().status(), 401);
        assert_eq!(m.params, vec!["../x".to_owned()]);
        let m = match_route(&routes(), &Method::GET, "/api/v1/models/").unwrap();
        assert_eq!(m.route, R::List);
    }

    #[test]
    fn when_path_unknown_should_be_404_and_wrong_method_405() {
        let e = match_route(&routes(), &Method::GET, "/nope").unwrap_err();
        assert_eq!(e.status(), 404);
        let e = match_route(&routes(), &Method::DELETE, "/api/v1/models").unwrap_err();
        assert_eq!(e.status(), 405);
        assert!(e.to_string().contains("GET"), "{e}");
        let e = match_route(&routes(), &Method::GET, "/api/v1/models/%zz").unwrap_err();
        assert_eq!(e.status(), 400);
    }
}
