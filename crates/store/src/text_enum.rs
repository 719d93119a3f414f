//! Rust enums stored as upper-case text guarded by a CHECK constraint. One macro writes the
//! conversions both ways, so the spelling of each value lives in one place per enum (and in the
//! migration's CHECK, which the tests hold it to).

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
