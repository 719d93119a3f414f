//! The one error type of the store. Constraint violations are classified here, once, so callers
//! can map them to gRPC codes without reading Postgres error codes. Messages carry constraint
//! names (as named in `migrations/`), never values: no secret or personal data ends up in them.

use sqlx::error::ErrorKind;

/// What went wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The row addressed does not exist.
    #[error("not found")]
    NotFound,
    /// A unique constraint refused the write; holds the constraint name, for example
    /// `domains_pkey`, `staff_members_pkey`, `staff_members_username_key`.
    #[error("already exists ({0})")]
    AlreadyExists(String),
    /// The caller's etag does not match the row's current etag (or cannot be parsed).
    #[error("etag mismatch")]
    EtagMismatch,
    /// The lease presented is no longer held: another worker took the item over (its fencing
    /// token is newer), or the item was released.
    #[error("fenced: the lease is no longer held")]
    Fenced,
    /// The write conflicts with the row's state: an operation that is already finished, a
    /// request id already completed.
    #[error("conflict: {0}")]
    Conflict(String),
    /// A CHECK or NOT NULL constraint refused a value; holds the constraint (or column) name.
    #[error("invalid value ({0})")]
    InvalidValue(String),
    /// A foreign key refused the write because the row it refers to does not exist; holds the
    /// constraint name, for example `support_accounts_domain_fkey`.
    #[error("referenced row missing ({0})")]
    ReferenceNotFound(String),
    /// A migration failed at start-up.
    #[error("migration failed")]
    Migrate(#[source] sqlx::migrate::MigrateError),
    /// Any other database or connection error.
    #[error("database error")]
    Database(#[source] sqlx::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &error {
            let constraint = || db.constraint().unwrap_or("unnamed").to_owned();
            match db.kind() {
                ErrorKind::UniqueViolation => return StoreError::AlreadyExists(constraint()),
                ErrorKind::ForeignKeyViolation => {
                    return StoreError::ReferenceNotFound(constraint());
                }
                ErrorKind::CheckViolation => return StoreError::InvalidValue(constraint()),
                ErrorKind::NotNullViolation => {
                    let column = db
                        .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
                        .and_then(|pg| pg.column())
                        .unwrap_or("unnamed");
                    return StoreError::InvalidValue(column.to_owned());
                }
                _ => {}
            }
        }
        if matches!(error, sqlx::Error::RowNotFound) {
            return StoreError::NotFound;
        }
        StoreError::Database(error)
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(error: sqlx::migrate::MigrateError) -> Self {
        StoreError::Migrate(error)
    }
}

/// Result of every store function.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;
