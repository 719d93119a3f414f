//! Partial responses: the `fields` system parameter, as Google's APIs apply it to a successful
//! response body (`fields=nextPageToken,users(primaryEmail,name/givenName)`).
//!
//! The syntax is Google's: a comma-separated list of selections; `a/b` selects `b` inside `a`;
//! `a(b,c)` selects `b` and `c` inside `a`; `*` selects every field of its level. A selection
//! inside an array applies to each element. Selecting a field the body does not hold selects
//! nothing. A selection that does not parse is refused before the call has any effect, with
//! Google's 400 `invalidParameter`.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::error::GoogleError;

/// A parsed `fields` value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldSelection(Selection);

#[derive(Clone, Debug, PartialEq, Eq)]
enum Selection {
    /// The whole value.
    All,
    /// Some fields of an object (each element's, for an array); `*` is a key like the others.
    Some(BTreeMap<String, Selection>),
}

impl FieldSelection {
    /// Parses a `fields` value, or gives the error Google answers with.
    pub fn parse(fields: &str) -> Result<Self, GoogleError> {
        let invalid = || {
            GoogleError::new(
                400,
                "invalidParameter",
                format!("Invalid field selection {fields}"),
            )
            .with_location("fields", "parameter")
        };
        let mut parser = Parser {
            chars: fields.chars().collect(),
            at: 0,
        };
        let selection = parser.list().ok_or_else(invalid)?;
        if parser.at != parser.chars.len() {
            return Err(invalid());
        }
        Ok(FieldSelection(selection))
    }

    /// `body` with only the selected fields.
    pub fn apply(&self, body: Value) -> Value {
        apply(&self.0, body).unwrap_or_else(|| Value::Object(Map::new()))
    }
}

/// The selected part of `value`; `None` when a sub-selection asks inside a scalar.
fn apply(selection: &Selection, value: Value) -> Option<Value> {
    match (selection, value) {
        (Selection::All, value) => Some(value),
        (selection, Value::Array(items)) => Some(Value::Array(
            items
                .into_iter()
                .filter_map(|item| apply(selection, item))
                .collect(),
        )),
        (Selection::Some(fields), Value::Object(object)) => {
            let every = fields.get("*");
            let mut kept = Map::new();
            for (key, value) in object {
                // A field's own selection, else the wildcard's; a whole wildcard wins.
                let chosen = match every {
                    Some(Selection::All) => every,
                    _ => fields.get(&key).or(every),
                };
                if let Some(part) = chosen.and_then(|chosen| apply(chosen, value)) {
                    kept.insert(key, part);
                }
            }
            Some(Value::Object(kept))
        }
        (Selection::Some(_), _) => None,
    }
}

/// Adds the field `name` with its `selection` to `into`, merging with what is there.
fn merge(into: &mut BTreeMap<String, Selection>, name: String, selection: Selection) {
    match into.remove(&name) {
        None => {
            into.insert(name, selection);
        }
        Some(Selection::All) => {
            into.insert(name, Selection::All);
        }
        Some(Selection::Some(mut existing)) => match selection {
            Selection::All => {
                into.insert(name, Selection::All);
            }
            Selection::Some(more) => {
                for (key, value) in more {
                    merge(&mut existing, key, value);
                }
                into.insert(name, Selection::Some(existing));
            }
        },
    }
}

struct Parser {
    chars: Vec<char>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn skip_spaces(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.at += 1;
        }
    }

    /// selection (',' selection)*
    fn list(&mut self) -> Option<Selection> {
        let mut fields = BTreeMap::new();
        loop {
            self.skip_spaces();
            let (name, selection) = self.selection()?;
            merge(&mut fields, name, selection);
            self.skip_spaces();
            if self.peek() == Some(',') {
                self.at += 1;
            } else {
                return Some(Selection::Some(fields));
            }
        }
    }

    /// name ('/' name)* ('(' list ')')?
    fn selection(&mut self) -> Option<(String, Selection)> {
        let mut path = vec![self.name()?];
        while self.peek() == Some('/') {
            self.at += 1;
            path.push(self.name()?);
        }
        let mut selection = if self.peek() == Some('(') {
            self.at += 1;
            let inner = self.list()?;
            self.skip_spaces();
            if self.peek() != Some(')') {
                return None;
            }
            self.at += 1;
            inner
        } else {
            Selection::All
        };
        while path.len() > 1 {
            let name = path.pop().expect("more than one");
            selection = Selection::Some(BTreeMap::from([(name, selection)]));
        }
        Some((path.pop().expect("one"), selection))
    }

    fn name(&mut self) -> Option<String> {
        if self.peek() == Some('*') {
            self.at += 1;
            return Some("*".into());
        }
        let start = self.at;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$' || c == '.')
        {
            self.at += 1;
        }
        (self.at > start).then(|| self.chars[start..self.at].iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn select(fields: &str, body: Value) -> Value {
        FieldSelection::parse(fields).expect("parses").apply(body)
    }

    fn users() -> Value {
        json!({
            "kind": "admin#directory#users",
            "etag": "\"e\"",
            "nextPageToken": "t",
            "users": [
                {"primaryEmail": "a@x.example", "id": "1", "name": {"givenName": "A", "familyName": "Alpha"}},
                {"primaryEmail": "b@x.example", "id": "2", "name": {"givenName": "B", "familyName": "Bravo"}}
            ]
        })
    }

    #[test]
    fn top_level_fields_and_sub_selections_inside_arrays() {
        assert_eq!(
            select("nextPageToken,users(primaryEmail,name/givenName)", users()),
            json!({
                "nextPageToken": "t",
                "users": [
                    {"primaryEmail": "a@x.example", "name": {"givenName": "A"}},
                    {"primaryEmail": "b@x.example", "name": {"givenName": "B"}}
                ]
            })
        );
    }

    #[test]
    fn paths_merge_and_a_whole_field_wins_over_its_parts() {
        assert_eq!(
            select("users/id,users/primaryEmail", users()),
            json!({"users": [
                {"primaryEmail": "a@x.example", "id": "1"},
                {"primaryEmail": "b@x.example", "id": "2"}
            ]})
        );
        assert_eq!(
            select("users/name/givenName,users", users())["users"][0]["name"]["familyName"],
            "Alpha"
        );
    }

    #[test]
    fn a_wildcard_selects_every_field_of_its_level() {
        assert_eq!(select("*", users()), users());
        assert_eq!(
            select("users(*)", users())["users"][1]["name"]["familyName"],
            "Bravo"
        );
        assert_eq!(
            select("users/*/givenName", users())["users"][0],
            json!({"name": {"givenName": "A"}})
        );
    }

    #[test]
    fn fields_the_body_lacks_select_nothing() {
        assert_eq!(
            select("kind,nothingHere", users()),
            json!({"kind": "admin#directory#users"})
        );
    }

    #[test]
    fn selections_that_do_not_parse_are_refused() {
        for bad in [
            "", "users(", "users(id", "users)", "a,,b", "a/", "/a", "a b", "users()",
        ] {
            let error = FieldSelection::parse(bad).expect_err(bad);
            assert_eq!(error.code, 400, "{bad}");
            assert_eq!(error.reason, "invalidParameter", "{bad}");
        }
    }
}
