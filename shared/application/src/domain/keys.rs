//! The table's key schema, shared by both item adapters (DynamoDB and SQLite). Every key starts
//! with its tenant, `T#{tenant}#`, so one tenant's items are one key prefix (what IAM's
//! `dynamodb:LeadingKeys` can confine a role to): model items under `T#{tenant}#MODEL#{name}`,
//! jobs under `T#{tenant}#JOB#{id}`, API keys under `T#{tenant}#KEYS`.

use super::tenant::Tenant;

/// The prefix of every key of `tenant`: `T#{tenant}#`.
pub fn tenant_prefix(tenant: &Tenant) -> String {
    format!("T#{tenant}#")
}

/// Partition key of a model's items: `T#{tenant}#MODEL#{name}`.
pub fn model_pk(tenant: &Tenant, name: &str) -> String {
    format!("T#{tenant}#MODEL#{name}")
}

/// Sort key of one model version: `VERSION#{000001}`.
pub fn version_sk(version: u32) -> String {
    format!("VERSION#{version:06}")
}

/// Sort key of the item pointing at a model's current version.
pub const LATEST_SK: &str = "LATEST";

/// Partition key of a job: `T#{tenant}#JOB#{id}`.
pub fn job_pk(tenant: &Tenant, id: &str) -> String {
    format!("T#{tenant}#JOB#{id}")
}

/// Sort key of a job item.
pub const JOB_SK: &str = "JOB";

/// Partition key of the alert suppression states of a model: `T#{tenant}#ALERT#{model}`.
pub fn alert_pk(tenant: &Tenant, model: &str) -> String {
    format!("T#{tenant}#ALERT#{model}")
}

/// Sort key of one entity's alert suppression state: `ENTITY#{entity}` (`ENTITY#` for records
/// naming none).
pub fn alert_sk(entity: &str) -> String {
    format!("ENTITY#{entity}")
}

/// Partition key of a tenant's series records: `T#{tenant}#SERIES` (one query lists them).
pub fn series_pk(tenant: &Tenant) -> String {
    format!("T#{tenant}#SERIES")
}

/// Sort key of one series' record: `SERIES#{name}`.
pub fn series_sk(name: &str) -> String {
    format!("{SERIES_SK_PREFIX}{name}")
}

/// The start of every series record's sort key, so a scan of the whole table (a backup) can
/// pick series records out.
pub const SERIES_SK_PREFIX: &str = "SERIES#";

/// The tenant a series partition key `T#{tenant}#SERIES` names, or `None` when `pk` is not one
/// (a scan of every tenant's series learns each record's tenant from its key).
pub fn series_tenant(pk: &str) -> Option<Tenant> {
    let tenant = pk.strip_prefix("T#")?.strip_suffix("#SERIES")?;
    Tenant::parse(tenant).ok()
}

/// Partition key of a tenant's API keys: `T#{tenant}#KEYS` (one query lists them).
pub fn api_keys_pk(tenant: &Tenant) -> String {
    format!("T#{tenant}#KEYS")
}

/// Sort key of one API key: `KEY#{id}`.
pub fn api_key_sk(id: &str) -> String {
    format!("KEY#{id}")
}

/// Partition key of an idempotency record: `T#{tenant}#IDEM#{key}` (`key` a SHA-256 in hex).
pub fn idempotency_pk(tenant: &Tenant, key: &str) -> String {
    format!("T#{tenant}#IDEM#{key}")
}

/// Sort key of an idempotency record.
pub const IDEMPOTENCY_SK: &str = "IDEM";

/// The index partition of running jobs holding a lease (a sparse index: only running jobs
/// carry it), which the sweep queries for expired leases.
pub const LEASES_PK: &str = "LEASES";

/// The index sort key of a running job's lease: the expiry, zero-padded so text order is time
/// order, then the job's key.
pub fn lease_sk(lease_expires_at: u64, tenant: &Tenant, id: &str) -> String {
    format!("{lease_expires_at:020}#{tenant}#{id}")
}

/// Partition-key prefix of model items written before tenancy (`MODEL#{name}`), which the
/// upgrade moves to the default tenant.
pub const LEGACY_MODEL_PREFIX: &str = "MODEL#";

/// Partition-key prefix of job items written before tenancy (`JOB#{id}`).
pub const LEGACY_JOB_PREFIX: &str = "JOB#";

/// Partition key of a model's items before tenancy, for the upgrade: `MODEL#{name}`.
pub fn legacy_model_pk(name: &str) -> String {
    format!("{LEGACY_MODEL_PREFIX}{name}")
}

/// Partition key of a job before tenancy, for the upgrade: `JOB#{id}`.
pub fn legacy_job_pk(id: &str) -> String {
    format!("{LEGACY_JOB_PREFIX}{id}")
}

/// Partition key of a model's labelled rows: `T#{tenant}#LABELS#{model}` (one query reads them).
pub fn labels_pk(tenant: &Tenant, model: &str) -> String {
    format!("T#{tenant}#LABELS#{model}")
}

/// Sort key of one labelled row: `LABEL#{id}`.
pub fn label_sk(id: &str) -> String {
    format!("{LABEL_SK_PREFIX}{id}")
}

/// The start of every labelled row's sort key, so a scan of the whole table (a backup) can pick
/// labels out.
pub const LABEL_SK_PREFIX: &str = "LABEL#";

/// The tenant and model a labels partition key `T#{tenant}#LABELS#{model}` names, or `None` when
/// `pk` is not one.
pub fn labels_owner(pk: &str) -> Option<(Tenant, String)> {
    let (tenant, model) = pk.strip_prefix("T#")?.split_once("#LABELS#")?;
    Some((Tenant::parse(tenant).ok()?, model.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn when_two_tenants_use_one_name_should_get_disjoint_keys() {
        let (a, b) = (Tenant::parse("a").unwrap(), Tenant::parse("b").unwrap());
        assert_ne!(model_pk(&a, "m"), model_pk(&b, "m"));
        assert!(model_pk(&a, "m").starts_with(&tenant_prefix(&a)));
        assert!(job_pk(&a, "j").starts_with(&tenant_prefix(&a)));
        assert!(api_keys_pk(&a).starts_with(&tenant_prefix(&a)));
        // A tenant cannot contain '#', so no tenant's prefix is another's.
        assert!(!model_pk(&Tenant::parse("a-b").unwrap(), "m").starts_with(&tenant_prefix(&a)));
    }

    #[test]
    fn when_a_series_key_is_read_back_should_give_its_tenant_and_refuse_other_keys() {
        let a = Tenant::parse("a-b").unwrap();
        assert_eq!(series_tenant(&series_pk(&a)), Some(a));
        for other in [
            "T#a#KEYS",
            "SERIES",
            "T##SERIES",
            "X#a#SERIES",
            "T#a#b#SERIES",
        ] {
            assert_eq!(series_tenant(other), None, "{other}");
        }
    }
}
