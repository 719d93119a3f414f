//! `IssueSignInCredential`: a fresh random password for a support account, returned once.
//!
//! The password is generated here (20 characters: letters, digits and symbols, at least one of
//! each), sent to Google only as a salted SHA-512 crypt hash (`hashFunction: "crypt"`) with
//! `changePasswordAtNextLogin`, and handed to the caller in the response. It lives in a
//! redacting [`SecretString`] until then; it is never stored, logged or audited. Because it
//! cannot be shown twice, the request id is not replayed: it is claimed (so a reused id is
//! refused with ALREADY_EXISTS) but no response is kept for it. No database transaction is open
//! while Google is called: the id is claimed in one short transaction and the outcome recorded
//! in another.
//!
//! Only a declared, not revoked, support account is touched, and only when Google shows it as
//! what this service made: not a super administrator, inside the domain's support org unit. The
//! delegated admin's password, or anyone else's, can never be reset through this RPC.

use prost::Message;
use rand::Rng;
use rand::seq::SliceRandom;
use support_access_domain::validation::Violations;
use support_access_domain::{OrgUnitPath, parse_support_account_resource};
use support_access_google::model::{HashFunction, UserChanges};
use support_access_google::{ErrorClass, ExposeSecret, SecretString};
use support_access_proto::v1;
use support_access_store::accounts::{self, Desired};
use support_access_store::domains::DomainRecord;
use support_access_store::{StoreError, audit, idempotency};

use super::methods::ISSUE_SIGN_IN_CREDENTIAL;
use super::{observation, sha512_crypt};
use crate::auth::Principal;
use crate::error::ApiError;
use crate::state::AppState;

/// The resource type of support accounts.
pub const RESOURCE_TYPE: &str = "supportaccess.googleapis.com/SupportAccount";

/// Length of an issued password.
pub const PASSWORD_LENGTH: usize = 20;

const LOWER: &[u8] = b"abcdefghijkmnopqrstuvwxyz";
const UPPER: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ";
const DIGITS: &[u8] = b"23456789";
/// Symbols that survive shells, URLs and copy-paste without quoting trouble.
const SYMBOLS: &[u8] = b"!#%*+-=?@^_~";

/// A fresh password of [`PASSWORD_LENGTH`] characters with at least one lower-case letter,
/// upper-case letter, digit and symbol (look-alikes such as `l`, `I`, `O`, `0`, `1` left out),
/// from the thread's cryptographically secure generator.
pub fn new_password() -> SecretString {
    let mut rng = rand::rng();
    let classes = [LOWER, UPPER, DIGITS, SYMBOLS];
    let all: Vec<u8> = classes.concat();
    let mut chars: Vec<u8> = classes
        .iter()
        .map(|class| class[rng.random_range(0..class.len())])
        .collect();
    while chars.len() < PASSWORD_LENGTH {
        chars.push(all[rng.random_range(0..all.len())]);
    }
    chars.shuffle(&mut rng);
    SecretString::from(chars.into_iter().map(char::from).collect::<String>())
}

/// `IssueSignInCredential`.
pub async fn issue_sign_in_credential(
    state: &AppState,
    principal: &Principal,
    request: &v1::IssueSignInCredentialRequest,
) -> Result<v1::IssueSignInCredentialResponse, ApiError> {
    let mut v = Violations::default();
    let target = v.check("name", parse_support_account_resource(&request.name));
    let request_id = v
        .check("request_id", super::parse_request_id(&request.request_id))
        .flatten();
    v.finish().map_err(ApiError::InvalidArgument)?;
    let Some((domain, username)) = target else {
        unreachable!("violations were reported above");
    };
    principal.check_domain(domain.as_str())?;
    let email = format!("{username}@{domain}");
    let not_found = || ApiError::NotFound {
        resource_type: RESOURCE_TYPE,
        name: request.name.clone(),
    };

    let store = state.store()?;
    let record = {
        let mut conn = state.conn().await?;
        let record = observation::domain_record(&mut conn, domain.as_str()).await?;
        accounts::get_by_email(&mut conn, &email)
            .await?
            .filter(|a| a.domain_name == domain.as_str() && a.desired == Desired::Active)
            .ok_or_else(not_found)?;
        record
    };

    // No transaction is open while Google is called (a call may take minutes, and connections
    // are shared with the engine): the request id is claimed and committed first, Google is
    // called, and the outcome is recorded afterwards. A concurrent call with the same id is
    // refused at once instead of waiting; a call that fails gives its id back, so it can be
    // retried under the same id. If the process dies in between, the id stays claimed and a
    // retry is refused: whether the password changed is unknown, and a new id issues a new one.
    let fingerprint = idempotency::fingerprint(&request.encode_to_vec());
    if let Some(id) = &request_id {
        let mut conn = state.conn().await?;
        match idempotency::claim(
            &mut conn,
            id.as_str(),
            ISSUE_SIGN_IN_CREDENTIAL,
            &fingerprint,
        )
        .await?
        {
            idempotency::Claim::New => {}
            idempotency::Claim::Pending | idempotency::Claim::Replay { .. } => {
                return Err(ApiError::AlreadyExists {
                    resource_type: "request",
                    name: id.as_str().to_owned(),
                    reason: "REQUEST_ID_REUSED",
                    message: format!(
                        "request_id {:?} was already used: a sign-in credential is shown only once, so the call is not replayed; send a new request_id to issue another",
                        id.as_str()
                    ),
                });
            }
            idempotency::Claim::Mismatch => {
                return Err(ApiError::AlreadyExists {
                    resource_type: "request",
                    name: id.as_str().to_owned(),
                    reason: "REQUEST_ID_REUSED",
                    message: format!(
                        "request_id {:?} was already used for a different request",
                        id.as_str()
                    ),
                });
            }
        }
    }

    let event = |outcome: &str, detail: String| audit::NewAuditEvent {
        principal: principal.id.clone(),
        method: ISSUE_SIGN_IN_CREDENTIAL.to_owned(),
        request_id: request_id.as_ref().map(|id| id.as_str().to_owned()),
        domain_name: Some(domain.as_str().to_owned()),
        target: request.name.clone(),
        outcome: outcome.to_owned(),
        detail,
    };
    match set_password(state, &record, &email).await {
        Ok(password) => {
            // The claim stays (without a response: a credential is never replayed).
            let mut conn = state.conn().await?;
            audit::append(
                &mut conn,
                &event(
                    "OK",
                    "new password set in Google as a SHA-512 crypt hash; change required at next sign-in".into(),
                ),
            )
            .await?;
            tracing::info!(account = %email, principal = %principal.id, "sign-in credential issued");
            Ok(v1::IssueSignInCredentialResponse {
                email,
                password: password.expose_secret().to_owned(),
            })
        }
        Err(error) => {
            // Give the id back and audit the refusal, together.
            let refusal = event(error.reason(), error.to_string());
            let recorded = async {
                let mut tx = store.pool().begin().await?;
                if let Some(id) = &request_id {
                    idempotency::release(
                        &mut tx,
                        id.as_str(),
                        ISSUE_SIGN_IN_CREDENTIAL,
                        &fingerprint,
                    )
                    .await?;
                }
                audit::append(&mut tx, &refusal).await?;
                tx.commit().await?;
                Ok::<(), StoreError>(())
            }
            .await;
            if let Err(record_error) = recorded {
                // The caller needs the reason it failed more than the bookkeeping failure.
                tracing::warn!(error = %record_error, target = %request.name, "cannot release the request id or audit a refused sign-in credential");
            }
            Err(error)
        }
    }
}

/// Sets a fresh password on the account in Google and returns it.
async fn set_password(
    state: &AppState,
    record: &DomainRecord,
    email: &str,
) -> Result<SecretString, ApiError> {
    let client = observation::google_client(state, record).await?;
    let user = client.users_get(email).await.map_err(|e| {
        if matches!(e.class(), ErrorClass::NotFound) {
            ApiError::FailedPrecondition {
                reason: "ACCOUNT_NOT_IN_GOOGLE",
                message: format!(
                    "{email} does not exist in Google yet: provision access first (ProvisionSupportAccess)"
                ),
            }
        } else {
            observation::google_error(&record.domain_name, e)
        }
    })?;
    let support_ou =
        OrgUnitPath::parse(&record.org_unit_path).map_err(|e| ApiError::FailedPrecondition {
            reason: "DECLARATION_INVALID",
            message: format!("the org unit of {} is not valid: {e}", record.domain_name),
        })?;
    let user_ou = user
        .org_unit_path
        .as_deref()
        .and_then(|p| OrgUnitPath::parse(p).ok())
        .unwrap_or_else(OrgUnitPath::root);
    if user.is_admin {
        return Err(ApiError::FailedPrecondition {
            reason: "NOT_A_SUPPORT_ACCOUNT",
            message: format!(
                "{email} is a super administrator in Google, not a support account: its password is not managed by this service"
            ),
        });
    }
    if !user_ou.is_within(&support_ou) {
        return Err(ApiError::FailedPrecondition {
            reason: "NOT_A_SUPPORT_ACCOUNT",
            message: format!(
                "{email} is in {user_ou}, outside the support org unit {support_ou}: provision access first so that the service manages it"
            ),
        });
    }
    let password = new_password();
    let changes = UserChanges {
        password: Some(SecretString::from(sha512_crypt::hash(
            password.expose_secret(),
        ))),
        hash_function: Some(HashFunction::Crypt),
        change_password_at_next_login: Some(true),
        ..UserChanges::default()
    };
    client
        .users_update(&user.id, &changes)
        .await
        .map_err(|e| observation::google_error(&record.domain_name, e))?;
    Ok(password)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_mix_every_class_and_differ() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..200 {
            let password = new_password();
            let text = password.expose_secret();
            assert_eq!(text.chars().count(), PASSWORD_LENGTH);
            for class in [LOWER, UPPER, DIGITS, SYMBOLS] {
                assert!(
                    text.bytes().any(|b| class.contains(&b)),
                    "a class is missing from a password"
                );
            }
            assert!(text.is_ascii());
            assert!(seen.insert(text.to_owned()), "a password repeated");
        }
    }

    #[test]
    fn passwords_never_print() {
        let password = new_password();
        let printed = format!("{password:?}");
        assert!(!printed.contains(password.expose_secret()));
    }

    #[test]
    fn the_update_sends_only_a_crypt_hash() {
        let password = new_password();
        let changes = UserChanges {
            password: Some(SecretString::from(sha512_crypt::hash(
                password.expose_secret(),
            ))),
            hash_function: Some(HashFunction::Crypt),
            change_password_at_next_login: Some(true),
            ..UserChanges::default()
        };
        let body = serde_json::to_value(&changes).unwrap();
        assert_eq!(body["hashFunction"], "crypt");
        assert_eq!(body["changePasswordAtNextLogin"], true);
        let sent = body["password"].as_str().unwrap();
        assert!(sent.starts_with("$6$"));
        assert!(!sent.contains(password.expose_secret()));
        assert!(sha512_crypt::verify(password.expose_secret(), sent));
        assert_eq!(body.as_object().unwrap().len(), 3, "{body}");
    }
}
