//! Rust enums stored as upper-case text guarded by a CHECK constraint. One macro writes the
//! conversions both ways, so the spelling of each value lives in one place per enum (and in the
//! migration's CHECK, which the tests hold it to). The domain's enums are read the same way
//! through [`StoredEnum`], with the domain's own spelling.

use support_access_domain::RoleMode;
use support_access_domain::lifecycle::{OperationKind, RevokeMode};
use support_access_domain::observed::ManualStep;
use support_access_domain::plan::StepKind;

/// A stored text that is not a value of the enum read: the schema and the code disagree.
#[derive(Debug, thiserror::Error)]
#[error("unknown {enum_name} value in the database")]
pub struct UnknownValue {
    /// The Rust enum that was read.
    pub enum_name: &'static str,
}

/// Declares a `Copy` enum with `as_str`, `ALL`, `Display`, `FromStr` and `TryFrom<String>` (the
/// latter for `#[sqlx(try_from = "String")]` fields).
macro_rules! text_enum {
    ($(#[$meta:meta])* pub enum $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The text stored in the database.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::text_enum::UnknownValue;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                match text {
                    $($text => Ok($name::$variant),)+
                    _ => Err($crate::text_enum::UnknownValue { enum_name: stringify!($name) }),
                }
            }
        }

        impl TryFrom<String> for $name {
            type Error = $crate::text_enum::UnknownValue;

            fn try_from(text: String) -> Result<Self, Self::Error> {
                text.parse()
            }
        }
    };
}

pub(crate) use text_enum;

/// A domain enum (from `support-access-domain`) persisted as upper-case text. The domain's
/// `as_str` is the one spelling of each value; reading compares the column against the spelling
/// of every value in the domain's `ALL`, so nothing here writes a value's text a second time.
pub trait StoredEnum: Copy + 'static {
    /// Every value, as the domain lists them.
    const ALL: &'static [Self];
    /// The Rust name, for [`UnknownValue`].
    const NAME: &'static str;
    /// The text written to Postgres.
    fn stored_text(self) -> &'static str;
}

/// Reads the text of a [`StoredEnum`] column; an unknown text is an [`UnknownValue`].
pub fn decode<T: StoredEnum>(text: &str) -> Result<T, UnknownValue> {
    T::ALL
        .iter()
        .copied()
        .find(|value| value.stored_text() == text)
        .ok_or(UnknownValue { enum_name: T::NAME })
}

/// The raw text of a [`StoredEnum`] column. `#[sqlx(try_from = "EnumText")]` reads a domain enum
/// field through it: a `TryFrom<String>` for the domain's types would break the orphan rule, a
/// `TryFrom<EnumText>` does not.
#[derive(sqlx::Type)]
#[sqlx(transparent)]
pub struct EnumText(String);

/// Makes domain enums [`StoredEnum`]s readable through [`EnumText`].
macro_rules! stored_domain_enums {
    ($($ty:ident),+ $(,)?) => {$(
        impl $crate::text_enum::StoredEnum for $ty {
            const ALL: &'static [$ty] = $ty::ALL;
            const NAME: &'static str = stringify!($ty);

            fn stored_text(self) -> &'static str {
                self.as_str()
            }
        }

        impl TryFrom<$crate::text_enum::EnumText> for $ty {
            type Error = $crate::text_enum::UnknownValue;

            fn try_from(text: $crate::text_enum::EnumText) -> Result<Self, Self::Error> {
                $crate::text_enum::decode(&text.0)
            }
        }
    )+};
}

stored_domain_enums!(OperationKind, RevokeMode, ManualStep, StepKind, RoleMode);
