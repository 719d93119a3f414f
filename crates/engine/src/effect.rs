//! What a step did in Google, as a type: it was applied (with the ids Google returned), or its
//! effect was already there (Google answered "already exists"), or its object was already gone
//! ("not found" on a removal). Journaled in `steps.google_effect` in the JSON shape older rows
//! have (`{"user_id": …, "already_existed": true}`), so both read the same.

use serde::{Deserialize, Serialize};
use support_access_domain::observed::UserId;

/// The ids a step's effect carries, for later steps and for a person reading the journal.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EffectIds {
    /// The org unit created.
    pub org_unit_id: Option<String>,
    /// The role created, found or assigned.
    pub role_id: Option<String>,
    /// The user created, found, updated or given the role.
    pub user_id: Option<String>,
    /// The role assignment created.
    pub role_assignment_id: Option<String>,
}

/// What a step did in Google.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "StoredEffect", into = "StoredEffect")]
pub enum StepEffect {
    /// Google applied the change.
    Applied(EffectIds),
    /// Google already had what the step creates (a worker before this one got there).
    AlreadyExisted(EffectIds),
    /// What the step removes was already gone.
    AlreadyGone,
}

impl StepEffect {
    /// An applied change that returned nothing worth keeping.
    pub fn applied() -> Self {
        StepEffect::Applied(EffectIds::default())
    }

    /// The ids the effect carries (none for [`StepEffect::AlreadyGone`]).
    pub fn ids(&self) -> Option<&EffectIds> {
        match self {
            StepEffect::Applied(ids) | StepEffect::AlreadyExisted(ids) => Some(ids),
            StepEffect::AlreadyGone => None,
        }
    }

    /// The user id in the effect, if any.
    pub fn user_id(&self) -> Option<UserId> {
        self.ids()?.user_id.as_deref().map(UserId::new)
    }

    /// The role id in the effect, if any.
    pub fn role_id(&self) -> Option<&str> {
        self.ids()?.role_id.as_deref()
    }
}

/// The journaled JSON shape: the ids, and a flag for an effect that was already there.
#[derive(Serialize, Deserialize, Default)]
struct StoredEffect {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    org_unit_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    role_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    user_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    role_assignment_id: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    already_existed: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    already_gone: bool,
}

impl From<StoredEffect> for StepEffect {
    fn from(stored: StoredEffect) -> Self {
        let ids = EffectIds {
            org_unit_id: stored.org_unit_id,
            role_id: stored.role_id,
            user_id: stored.user_id,
            role_assignment_id: stored.role_assignment_id,
        };
        if stored.already_gone {
            StepEffect::AlreadyGone
        } else if stored.already_existed {
            StepEffect::AlreadyExisted(ids)
        } else {
            StepEffect::Applied(ids)
        }
    }
}

impl From<StepEffect> for StoredEffect {
    fn from(effect: StepEffect) -> Self {
        match effect {
            StepEffect::Applied(ids) => StoredEffect::with_ids(ids),
            StepEffect::AlreadyExisted(ids) => StoredEffect {
                already_existed: true,
                ..StoredEffect::with_ids(ids)
            },
            StepEffect::AlreadyGone => StoredEffect {
                already_gone: true,
                ..StoredEffect::default()
            },
        }
    }
}

impl StoredEffect {
    fn with_ids(ids: EffectIds) -> Self {
        StoredEffect {
            org_unit_id: ids.org_unit_id,
            role_id: ids.role_id,
            user_id: ids.user_id,
            role_assignment_id: ids.role_assignment_id,
            ..StoredEffect::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn ids(user_id: &str, role_id: &str) -> EffectIds {
        EffectIds {
            user_id: Some(user_id.into()),
            role_id: Some(role_id.into()),
            ..EffectIds::default()
        }
    }

    #[test]
    fn effects_keep_the_journaled_json_shape() {
        let cases = [
            (StepEffect::applied(), json!({})),
            (StepEffect::AlreadyGone, json!({ "already_gone": true })),
            (
                StepEffect::AlreadyExisted(EffectIds::default()),
                json!({ "already_existed": true }),
            ),
            (
                StepEffect::AlreadyExisted(ids("u1", "r1")),
                json!({ "user_id": "u1", "role_id": "r1", "already_existed": true }),
            ),
            (
                StepEffect::Applied(EffectIds {
                    role_assignment_id: Some("a1".into()),
                    ..ids("u1", "r1")
                }),
                json!({ "role_assignment_id": "a1", "role_id": "r1", "user_id": "u1" }),
            ),
        ];
        for (effect, stored) in cases {
            assert_eq!(serde_json::to_value(&effect).unwrap(), stored);
            assert_eq!(
                serde_json::from_value::<StepEffect>(stored).unwrap(),
                effect
            );
        }
    }

    #[test]
    fn ids_are_read_from_every_effect_that_has_them() {
        let existed = StepEffect::AlreadyExisted(ids("u1", "r1"));
        assert_eq!(existed.user_id(), Some(UserId::new("u1")));
        assert_eq!(existed.role_id(), Some("r1"));
        assert_eq!(StepEffect::AlreadyGone.user_id(), None);
        assert_eq!(StepEffect::applied().role_id(), None);
    }
}
