//! The `keys` Lambda function: `POST /api/v1/keys`, `GET /api/v1/keys` and
//! `DELETE /api/v1/keys/{id}` for a tenant's admins, and `{"action":"issue_key",...}` by direct
//! invocation only, which creates a tenant with its first admin key (or an operator key).

pub mod handler;
