//! Installed-app OAuth clients and the users who authorized them: the `refresh_token` grant at
//! the token endpoint and the `/revoke` endpoint, as an administrator's own command-line tools
//! (GAM, gcloud-style tools, scripts with `google.oauth2.credentials.Credentials`) use them.
//!
//! The seed names the clients (`oauth_clients`) and, for each consent already given, a user, a
//! client and the granted scopes (`authorized_users`); the refresh token is the seed's or a fresh
//! one. A refreshed access token acts as that user, so the user's own admin roles decide what it
//! may do, exactly as for an impersonated user. Answers follow Google's token endpoint: a bad,
//! unknown or revoked refresh token is `400 invalid_grant`, a bad client secret or unknown client
//! `401 invalid_client` (see `crates/emulator/README.md` for which texts are verified).

use anyhow::{anyhow, bail};
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::auth::{IssuedToken, TokenRequestFacts};
use crate::discovery::Query;
use crate::error::OAuthError;
use crate::seed::Seed;
use crate::world::{AccessGrant, World};

/// An installed-app OAuth client.
#[derive(Clone)]
pub struct OAuthClient {
    /// `client_id`.
    pub client_id: String,
    /// `client_secret` (never in `Debug`).
    client_secret: String,
}

/// One consent: a user's refresh token for a client.
#[derive(Clone)]
pub struct RefreshToken {
    /// The token itself (never in `Debug`).
    token: String,
    /// The client it was issued to.
    pub client_id: String,
    /// The user's primary email.
    pub user_email: String,
    /// Scopes the user granted.
    pub scopes: Vec<String>,
    /// Revoked through `/revoke` (then refreshing answers "Token has been expired or revoked.").
    pub revoked: bool,
    /// Access tokens minted from it (revoked with it).
    access_tokens: Vec<String>,
}

/// Every OAuth client and refresh token of the world.
#[derive(Clone, Default)]
pub struct InstalledApps {
    clients: Vec<OAuthClient>,
    refresh_tokens: Vec<RefreshToken>,
}

impl std::fmt::Debug for InstalledApps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let clients: Vec<&str> = self.clients.iter().map(|c| c.client_id.as_str()).collect();
        f.debug_struct("InstalledApps")
            .field("clients", &clients)
            .field(
                "refresh_tokens",
                &format_args!("<{} issued>", self.refresh_tokens.len()),
            )
            .finish()
    }
}

/// Google's `invalid_client` answer for an unknown client id.
fn client_not_found() -> OAuthError {
    OAuthError {
        http_status: 401,
        error: "invalid_client",
        description: "The OAuth client was not found.".to_owned(),
    }
}

/// Google's `invalid_client` answer for a wrong or missing client secret.
fn bad_client_secret() -> OAuthError {
    OAuthError {
        http_status: 401,
        error: "invalid_client",
        description: "Unauthorized".to_owned(),
    }
}

/// Google's `invalid_grant` answer for a refresh token it never issued (or to another client).
fn bad_refresh_token() -> OAuthError {
    OAuthError::invalid_grant("Bad Request")
}

/// Google's `invalid_grant` answer for a revoked refresh token.
fn revoked_refresh_token() -> OAuthError {
    OAuthError::invalid_grant("Token has been expired or revoked.")
}

impl InstalledApps {
    /// The clients and consents of a seed; users must exist in `world`.
    pub fn from_seed(seed: &Seed, world: &World) -> anyhow::Result<Self> {
        let mut apps = Self::default();
        for client in &seed.oauth_clients {
            if apps.client(&client.client_id).is_some() {
                bail!(
                    "OAuth client {} appears twice in the seed",
                    client.client_id
                );
            }
            apps.clients.push(OAuthClient {
                client_id: client.client_id.clone(),
                client_secret: client.client_secret.clone(),
            });
        }
        for consent in &seed.authorized_users {
            if apps.client(&consent.client_id).is_none() {
                bail!(
                    "authorized user {} names OAuth client {}, which is not in oauth_clients",
                    consent.user,
                    consent.client_id
                );
            }
            let (customer_id, index) = world
                .find_user_anywhere(&consent.user)
                .ok_or_else(|| anyhow!("authorized user {} is no user", consent.user))?;
            let user_email = world
                .customer(&customer_id)
                .map(|c| c.users[index].primary_email.clone())
                .unwrap_or_default();
            let token = consent
                .refresh_token
                .clone()
                .unwrap_or_else(|| format!("1//emu-{}", crate::world::random_alnum(64)));
            if apps.refresh_tokens.iter().any(|t| t.token == token) {
                bail!("a refresh token appears twice in authorized_users");
            }
            apps.refresh_tokens.push(RefreshToken {
                token,
                client_id: consent.client_id.clone(),
                user_email,
                scopes: consent.scopes.clone(),
                revoked: false,
                access_tokens: Vec::new(),
            });
        }
        Ok(apps)
    }

    fn client(&self, client_id: &str) -> Option<&OAuthClient> {
        self.clients.iter().find(|c| c.client_id == client_id)
    }

    /// The authorized users for the control API: user, client, scopes, refresh token, revoked.
    pub fn authorized_users_json(&self) -> Value {
        let users: Vec<Value> = self
            .refresh_tokens
            .iter()
            .map(|t| {
                json!({
                    "user": t.user_email,
                    "clientId": t.client_id,
                    "scopes": t.scopes,
                    "refreshToken": t.token,
                    "revoked": t.revoked,
                })
            })
            .collect();
        json!({ "authorizedUsers": users })
    }

    /// The `authorized_user` JSON Google's client libraries read (what `gcloud auth
    /// application-default login` writes), for the first live consent of `user_email`.
    pub fn authorized_user_file(&self, user_email: &str, token_uri: &str) -> Option<Value> {
        let consent = self
            .refresh_tokens
            .iter()
            .find(|t| !t.revoked && t.user_email.eq_ignore_ascii_case(user_email))?;
        let client = self.client(&consent.client_id)?;
        Some(json!({
            "type": "authorized_user",
            "client_id": client.client_id,
            "client_secret": client.client_secret,
            "refresh_token": consent.token,
            "token_uri": token_uri,
            "universe_domain": "googleapis.com",
        }))
    }

    /// Emails of users holding a live refresh token, in seed order, without repeats.
    pub fn authorized_user_emails(&self) -> Vec<String> {
        let mut emails: Vec<String> = Vec::new();
        for token in self.refresh_tokens.iter().filter(|t| !t.revoked) {
            if !emails.contains(&token.user_email) {
                emails.push(token.user_email.clone());
            }
        }
        emails
    }
}

/// The `refresh_token` grant: client credentials from the form body, then the refresh token.
pub fn refresh_token_grant(
    world: &mut World,
    form: &Query,
    lifetime_secs: u64,
    facts: &mut TokenRequestFacts,
) -> Result<IssuedToken, OAuthError> {
    let client_id = form
        .get("client_id")
        .ok_or_else(|| OAuthError::invalid_request("Missing required parameter: client_id"))?;
    facts.client_email = Some(client_id.to_owned());
    let client = world
        .installed_apps
        .client(client_id)
        .ok_or_else(client_not_found)?;
    if form.get("client_secret") != Some(client.client_secret.as_str()) {
        return Err(bad_client_secret());
    }
    let refresh_token = form
        .get("refresh_token")
        .ok_or_else(|| OAuthError::invalid_request("Missing required parameter: refresh_token"))?;
    let consent = world
        .installed_apps
        .refresh_tokens
        .iter()
        .find(|t| t.token == refresh_token && t.client_id == client_id)
        .ok_or_else(bad_refresh_token)?;
    if consent.revoked {
        return Err(revoked_refresh_token());
    }
    facts.subject = Some(consent.user_email.clone());
    // A user deleted since the consent has no tokens left.
    let (customer_id, index) = world
        .find_user_anywhere(&consent.user_email)
        .ok_or_else(revoked_refresh_token)?;
    facts.customer_id = Some(customer_id.clone());
    // `scope` may narrow the consent, never widen it.
    let scopes: Vec<String> = match form.get("scope") {
        Some(requested) => {
            let requested: Vec<String> = requested.split_whitespace().map(str::to_owned).collect();
            if requested
                .iter()
                .any(|scope| !consent.scopes.contains(scope))
            {
                return Err(OAuthError {
                    http_status: 400,
                    error: "invalid_scope",
                    description: "Bad Request".to_owned(),
                });
            }
            requested
        }
        None => consent.scopes.clone(),
    };
    let user = world
        .customer(&customer_id)
        .map(|c| c.users[index].clone())
        .ok_or_else(revoked_refresh_token)?;
    let grant = AccessGrant {
        client_email: client_id.to_owned(),
        subject_user_id: user.id,
        subject_email: user.primary_email,
        customer_id,
        scopes: scopes.clone(),
        expires: Instant::now() + std::time::Duration::from_secs(lifetime_secs),
    };
    let access_token = crate::auth::issue_access_token(world, grant);
    if let Some(consent) = world
        .installed_apps
        .refresh_tokens
        .iter_mut()
        .find(|t| t.token == refresh_token)
    {
        consent.access_tokens.push(access_token.clone());
    }
    Ok(IssuedToken {
        access_token,
        expires_in: lifetime_secs,
        scope: Some(scopes.join(" ")),
    })
}

/// `POST /revoke?token=…` (or `token` in the form body): revokes a refresh token and the access
/// tokens minted from it, or an access token (with its refresh token, as Google documents).
pub fn revoke(world: &mut World, token: &str) -> Result<(), OAuthError> {
    let invalid = || OAuthError {
        http_status: 400,
        error: "invalid_token",
        description: "Token expired or revoked".to_owned(),
    };
    let position = world.installed_apps.refresh_tokens.iter().position(|t| {
        !t.revoked && (t.token == token || t.access_tokens.iter().any(|a| a == token))
    });
    match position {
        Some(index) => {
            let consent = &mut world.installed_apps.refresh_tokens[index];
            consent.revoked = true;
            let minted = std::mem::take(&mut consent.access_tokens);
            for access_token in minted {
                world.tokens.remove(&access_token);
            }
            Ok(())
        }
        // Any other live access token (service accounts' included) is simply dropped.
        None => world.tokens.remove(token).map(|_| ()).ok_or_else(invalid),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_holds_no_secret_and_no_refresh_token() {
        let mut apps = InstalledApps::default();
        apps.clients.push(OAuthClient {
            client_id: "id.apps.googleusercontent.com".to_owned(),
            client_secret: "GOCSPX-secret".to_owned(),
        });
        apps.refresh_tokens.push(RefreshToken {
            token: "1//refresh-secret".to_owned(),
            client_id: "id.apps.googleusercontent.com".to_owned(),
            user_email: "a@b.example".to_owned(),
            scopes: Vec::new(),
            revoked: false,
            access_tokens: vec!["ya29.access-secret".to_owned()],
        });
        let debug = format!("{apps:?}");
        assert!(debug.contains("id.apps.googleusercontent.com"));
        for secret in ["GOCSPX-secret", "1//refresh-secret", "ya29.access-secret"] {
            assert!(!debug.contains(secret), "{secret} leaked into {debug}");
        }
    }
}
