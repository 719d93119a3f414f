//! The schema's CHECK constraints: they refuse values outside the enums, and accept every value
//! the Rust enums can write (so code and migration cannot drift apart unnoticed).

use sqlx::PgPool;
use support_access_domain::RoleMode;
use support_access_store::{Result, StoreError};

/// Inserts a domain row with raw SQL, bypassing the typed repository.
async fn insert_raw_domain(
    pool: &PgPool,
    name: &str,
    role_mode: &str,
    org_unit: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO domains (domain_name, credential, delegated_admin, org_unit_path, role_mode, \
                              custom_role_name) \
         VALUES ($1, 'default', 'admin@x.example', $2, $3, 'Customer Care Portal Access')",
    )
    .bind(name)
    .bind(org_unit)
    .bind(role_mode)
    .execute(pool)
    .await?;
    Ok(())
}

#[sqlx::test(migrations = "../../migrations")]
async fn role_mode_check_refuses_unknown_values_and_accepts_every_rust_value(
    pool: PgPool,
) -> Result<()> {
    let err = insert_raw_domain(&pool, "a.example", "SUPER_ADMIN", "/OU")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::InvalidValue(c) if c == "domains_role_mode_check"),
        "{err:?}"
    );
    let err = insert_raw_domain(&pool, "b.example", "custom_role", "/OU")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::InvalidValue(c) if c == "domains_role_mode_check"),
        "{err:?}"
    );
    for (i, mode) in RoleMode::ALL.iter().enumerate() {
        insert_raw_domain(&pool, &format!("ok{i}.example"), mode.as_str(), "/OU").await?;
    }
    Ok(())
}

#[sqlx::test(migrations = "../../migrations")]
async fn domain_shape_checks(pool: PgPool) -> Result<()> {
    let err = insert_raw_domain(&pool, "Upper.Example", "CUSTOM_ROLE", "/OU")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::InvalidValue(c) if c == "domains_domain_name_check"),
        "{err:?}"
    );
    let err = insert_raw_domain(&pool, "a.example", "CUSTOM_ROLE", "OU")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::InvalidValue(c) if c == "domains_org_unit_path_check"),
        "{err:?}"
    );
    Ok(())
}
