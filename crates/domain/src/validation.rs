//! Collecting validation failures. A request is checked field by field; every failure is kept
//! with the path of its field (`domain.delegated_admin`, `staff_members[2]`) so that the caller
//! sees all of them at once. The server maps the list to `INVALID_ARGUMENT` with a
//! `google.rpc.BadRequest` whose field violations are exactly these.

use std::fmt;

use serde::{Deserialize, Serialize};

/// One invalid field of a request: where it is and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldViolation {
    /// Path of the field in the request, as in `google.rpc.BadRequest.FieldViolation.field`.
    pub field: String,
    /// User-facing description: lower case, no trailing period, says what is wrong and what is
    /// allowed.
    pub description: String,
}

impl fmt::Display for FieldViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.description)
    }
}

/// Why one value is invalid, without saying which field held it (the caller knows that). The
/// text is user-facing, e.g. `must be at most 60 characters, got 61`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidValue(pub String);

impl InvalidValue {
    /// Builds an `InvalidValue` from anything that reads as a description.
    pub fn new(description: impl Into<String>) -> Self {
        Self(description.into())
    }

    /// The description.
    pub fn description(&self) -> &str {
        &self.0
    }
}

/// The violations found so far while validating one request, in the order found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Violations {
    found: Vec<FieldViolation>,
}

impl Violations {
    /// An empty collection.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records the error under `field` (e.g. `domain.delegated_admin`) and returns `None`, or
    /// returns `Some(value)`.
    pub fn check<T>(&mut self, field: &str, result: Result<T, InvalidValue>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(InvalidValue(description)) => {
                self.add(field, description);
                None
            }
        }
    }

    /// Records a violation of `field`.
    pub fn add(&mut self, field: &str, description: impl Into<String>) {
        self.found.push(FieldViolation {
            field: field.to_owned(),
            description: description.into(),
        });
    }

    /// Records the violations of a nested message under `prefix`: a violation of `name` found
    /// while checking the nested message becomes `prefix.name`.
    pub fn extend_nested(
        &mut self,
        prefix: &str,
        nested: impl IntoIterator<Item = FieldViolation>,
    ) {
        for violation in nested {
            let field = if violation.field.is_empty() {
                prefix.to_owned()
            } else {
                format!("{prefix}.{}", violation.field)
            };
            self.found.push(FieldViolation {
                field,
                description: violation.description,
            });
        }
    }

    /// True when nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.found.is_empty()
    }

    /// How many violations were recorded.
    pub fn len(&self) -> usize {
        self.found.len()
    }

    /// The violations recorded so far.
    pub fn as_slice(&self) -> &[FieldViolation] {
        &self.found
    }

    /// `Ok` when nothing was recorded, otherwise every violation in the order found.
    pub fn finish(self) -> Result<(), Vec<FieldViolation>> {
        if self.found.is_empty() {
            Ok(())
        } else {
            Err(self.found)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_passes_values_through_and_records_errors_under_their_field() {
        let mut violations = Violations::new();
        assert_eq!(violations.check("a", Ok::<_, InvalidValue>(7)), Some(7));
        assert!(violations.is_empty());
        let failed: Option<u8> =
            violations.check("b.c", Err(InvalidValue::new("must not be empty")));
        assert_eq!(failed, None);
        assert_eq!(
            violations.as_slice(),
            &[FieldViolation {
                field: "b.c".into(),
                description: "must not be empty".into()
            }]
        );
    }

    #[test]
    fn finish_returns_every_violation_in_the_order_found() {
        let mut violations = Violations::new();
        violations.add("z", "first");
        violations.check::<()>("a", Err(InvalidValue::new("second")));
        violations.add("m", String::from("third"));
        assert_eq!(violations.len(), 3);
        let found = violations.finish().unwrap_err();
        let fields: Vec<_> = found.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(fields, ["z", "a", "m"]);
        let descriptions: Vec<_> = found.iter().map(|v| v.description.as_str()).collect();
        assert_eq!(descriptions, ["first", "second", "third"]);
    }

    #[test]
    fn finish_is_ok_when_nothing_was_recorded() {
        assert_eq!(Violations::default().finish(), Ok(()));
    }

    #[test]
    fn nested_violations_get_the_prefix() {
        let mut inner = Violations::new();
        inner.add("given_name", "must not be empty");
        inner.add("", "whole message missing");
        let mut outer = Violations::new();
        outer.extend_nested("staff_member", inner.finish().unwrap_err());
        let fields: Vec<_> = outer.as_slice().iter().map(|v| v.field.clone()).collect();
        assert_eq!(fields, ["staff_member.given_name", "staff_member"]);
    }

    #[test]
    fn invalid_value_displays_its_description() {
        let error = InvalidValue::new("must be at most 60 characters, got 61");
        assert_eq!(error.to_string(), "must be at most 60 characters, got 61");
        let violation = FieldViolation {
            field: "x".into(),
            description: error.0.clone(),
        };
        assert_eq!(
            violation.to_string(),
            "x: must be at most 60 characters, got 61"
        );
    }
}
