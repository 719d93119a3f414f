//! Google's discovery documents: the contract the emulator serves and checks itself against.
//!
//! The three documents (Directory, Licensing, Reseller) are compiled in. At start they are parsed
//! into [`MethodSpec`]s (HTTP verb, path, scopes, parameter limits and enums, required request
//! fields), which the request pipeline uses to check scopes, `maxResults` ranges, enum values and
//! required fields exactly as the documents say. They are also served back, with `rootUrl`
//! rewritten to the emulator, at `{base}discovery/v1/apis/{api}/{version}/rest`.

use std::collections::HashMap;

use serde_json::Value;

use crate::error::GoogleError;

/// Directory API discovery document (admin:directory_v1).
pub const DIRECTORY_DOC: &str = include_str!("../discovery/admin.directory_v1.json");
/// Licensing API discovery document (licensing:v1).
pub const LICENSING_DOC: &str = include_str!("../discovery/licensing.v1.json");
/// Reseller API discovery document (reseller:v1).
pub const RESELLER_DOC: &str = include_str!("../discovery/reseller.v1.json");

/// The three APIs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Api {
    /// `admin/directory/v1`.
    Directory,
    /// `apps/licensing/v1`.
    Licensing,
    /// `apps/reseller/v1`.
    Reseller,
}

impl Api {
    /// All APIs.
    pub const ALL: [Api; 3] = [Api::Directory, Api::Licensing, Api::Reseller];

    /// The compiled-in discovery document.
    pub fn document(self) -> &'static str {
        match self {
            Api::Directory => DIRECTORY_DOC,
            Api::Licensing => LICENSING_DOC,
            Api::Reseller => RESELLER_DOC,
        }
    }

    /// `(name, version)` in the discovery service, e.g. `("admin", "directory_v1")`.
    pub fn discovery_name(self) -> (&'static str, &'static str) {
        match self {
            Api::Directory => ("admin", "directory_v1"),
            Api::Licensing => ("licensing", "v1"),
            Api::Reseller => ("reseller", "v1"),
        }
    }

    /// Prefix of its method ids (`directory.`, `licensing.`, `reseller.`).
    pub fn method_prefix(self) -> &'static str {
        match self {
            Api::Directory => "directory.",
            Api::Licensing => "licensing.",
            Api::Reseller => "reseller.",
        }
    }

    /// Google's host for the API (named in quota messages).
    pub fn host(self) -> &'static str {
        match self {
            Api::Directory => "admin.googleapis.com",
            Api::Licensing => "licensing.googleapis.com",
            Api::Reseller => "reseller.googleapis.com",
        }
    }

    /// The API a method id belongs to.
    pub fn of_method(method_id: &str) -> Option<Api> {
        Api::ALL
            .into_iter()
            .find(|api| method_id.starts_with(api.method_prefix()))
    }
}

/// One query or path parameter of a method.
#[derive(Clone, Debug, Default)]
pub struct ParamSpec {
    /// `query` or `path`.
    pub location: String,
    /// Discovery type (`string`, `integer`, `boolean`).
    pub kind: String,
    /// `required`.
    pub required: bool,
    /// `minimum` (integers).
    pub minimum: Option<i64>,
    /// `maximum` (integers).
    pub maximum: Option<i64>,
    /// `enum` values.
    pub allowed: Option<Vec<String>>,
}

/// One method of a discovery document.
#[derive(Clone, Debug)]
pub struct MethodSpec {
    /// e.g. `directory.users.insert`.
    pub id: String,
    /// API.
    pub api: Api,
    /// `GET`, `POST`, …
    pub http_method: String,
    /// e.g. `admin/directory/v1/users/{userKey}`.
    pub path: String,
    /// Scopes, any one of which allows the method.
    pub scopes: Vec<String>,
    /// Parameters by name.
    pub params: HashMap<String, ParamSpec>,
    /// Request schema name.
    pub request: Option<String>,
    /// Response schema name.
    pub response: Option<String>,
    /// Dotted paths of request fields the schema marks required for this method.
    pub required_fields: Vec<String>,
}

/// All methods of the three documents, by id.
#[derive(Debug)]
pub struct Specs {
    methods: HashMap<String, MethodSpec>,
}

impl Specs {
    /// Parses the compiled-in documents.
    pub fn load() -> Self {
        let mut methods = HashMap::new();
        for api in Api::ALL {
            let doc: Value = serde_json::from_str(api.document())
                .unwrap_or_else(|e| panic!("compiled-in discovery document is not JSON: {e}"));
            collect_methods(api, &doc, &doc["resources"], &mut methods);
        }
        Self { methods }
    }

    /// The method with this id.
    pub fn get(&self, id: &str) -> Option<&MethodSpec> {
        self.methods.get(id)
    }

    /// Every method id.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.methods.keys().map(String::as_str)
    }
}

fn collect_methods(
    api: Api,
    doc: &Value,
    resources: &Value,
    out: &mut HashMap<String, MethodSpec>,
) {
    let Some(resources) = resources.as_object() else {
        return;
    };
    for resource in resources.values() {
        if let Some(methods) = resource["methods"].as_object() {
            for method in methods.values() {
                let id = method["id"].as_str().unwrap_or_default().to_owned();
                let params = method["parameters"]
                    .as_object()
                    .map(|params| {
                        params
                            .iter()
                            .map(|(name, p)| (name.clone(), param_spec(p)))
                            .collect()
                    })
                    .unwrap_or_default();
                let request = method["request"]["$ref"].as_str().map(str::to_owned);
                let mut required_fields = Vec::new();
                if let Some(schema) = &request {
                    required_paths(doc, schema, &id, "", 0, &mut required_fields);
                }
                out.insert(
                    id.clone(),
                    MethodSpec {
                        id,
                        api,
                        http_method: method["httpMethod"].as_str().unwrap_or_default().to_owned(),
                        path: method["path"].as_str().unwrap_or_default().to_owned(),
                        scopes: method["scopes"]
                            .as_array()
                            .map(|s| {
                                s.iter()
                                    .filter_map(Value::as_str)
                                    .map(str::to_owned)
                                    .collect()
                            })
                            .unwrap_or_default(),
                        params,
                        request,
                        response: method["response"]["$ref"].as_str().map(str::to_owned),
                        required_fields,
                    },
                );
            }
        }
        collect_methods(api, doc, &resource["resources"], out);
    }
}

fn param_spec(p: &Value) -> ParamSpec {
    let number = |v: &Value| v.as_str().and_then(|s| s.parse::<i64>().ok());
    ParamSpec {
        location: p["location"].as_str().unwrap_or_default().to_owned(),
        kind: p["type"].as_str().unwrap_or_default().to_owned(),
        required: p["required"].as_bool().unwrap_or(false),
        minimum: number(&p["minimum"]),
        maximum: number(&p["maximum"]),
        allowed: p["enum"].as_array().map(|values| {
            values
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        }),
    }
}

/// Collects `prefix.field` for every property whose `annotations.required` lists `method_id`.
fn required_paths(
    doc: &Value,
    schema: &str,
    method_id: &str,
    prefix: &str,
    depth: usize,
    out: &mut Vec<String>,
) {
    if depth > 3 {
        return;
    }
    let Some(properties) = doc["schemas"][schema]["properties"].as_object() else {
        return;
    };
    for (name, property) in properties {
        let path = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}.{name}")
        };
        let required = property["annotations"]["required"]
            .as_array()
            .is_some_and(|ids| ids.iter().any(|id| id.as_str() == Some(method_id)));
        if required {
            out.push(path.clone());
            if let Some(reference) = property["$ref"].as_str() {
                required_paths(doc, reference, method_id, &path, depth + 1, out);
            }
        }
    }
}

/// Parsed query string, keeping repeated parameters.
#[derive(Clone, Debug, Default)]
pub struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    /// Parses `a=1&b=2` (percent- and plus-decoded).
    pub fn parse(raw: Option<&str>) -> Self {
        Self {
            pairs: raw
                .map(|raw| {
                    url::form_urlencoded::parse(raw.as_bytes())
                        .map(|(k, v)| (k.into_owned(), v.into_owned()))
                        .collect()
                })
                .unwrap_or_default(),
        }
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every pair.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }
}

/// Query parameters every Google API accepts (system parameters) — never an error.
const SYSTEM_PARAMS: &[&str] = &[
    "$.xgafv",
    "access_token",
    "alt",
    "callback",
    "fields",
    "key",
    "oauth_token",
    "prettyPrint",
    "quotaUser",
    "uploadType",
    "upload_protocol",
];

impl MethodSpec {
    /// Checks query parameters against the document: types, ranges, enums, required ones.
    pub fn check_query(&self, query: &Query) -> Result<(), GoogleError> {
        if let Some(alt) = query.get("alt")
            && alt != "json"
        {
            return Err(GoogleError::invalid(format!(
                "Invalid value for: {alt} is not a valid value for alt"
            )));
        }
        for (name, value) in query.pairs() {
            if SYSTEM_PARAMS.contains(&name.as_str()) {
                continue;
            }
            let Some(spec) = self.params.get(name) else {
                continue;
            };
            if spec.location != "query" {
                continue;
            }
            match spec.kind.as_str() {
                "integer" => {
                    let number: i64 = value.parse().map_err(|_| {
                        GoogleError::invalid(format!(
                            "Invalid value '{value}'. Values must be within the range: [{}, {}]",
                            spec.minimum.unwrap_or(i64::MIN),
                            spec.maximum.unwrap_or(i64::MAX)
                        ))
                    })?;
                    let below = spec.minimum.is_some_and(|min| number < min);
                    let above = spec.maximum.is_some_and(|max| number > max);
                    if below || above {
                        return Err(GoogleError::invalid(format!(
                            "Invalid value '{value}'. Values must be within the range: [{}, {}]",
                            spec.minimum.unwrap_or(i64::MIN),
                            spec.maximum.unwrap_or(i64::MAX)
                        ))
                        .with_location(name, "parameter"));
                    }
                }
                "boolean" if value != "true" && value != "false" => {
                    return Err(GoogleError::invalid(format!(
                        "Invalid value for: {name} is not a valid boolean"
                    )));
                }
                _ => {}
            }
            if let Some(allowed) = &spec.allowed
                && !allowed.iter().any(|a| a == value)
            {
                return Err(GoogleError::invalid(format!(
                    "Invalid value for: {name} is not a valid value"
                )));
            }
        }
        for (name, spec) in &self.params {
            if spec.location == "query" && spec.required && query.get(name).is_none() {
                return Err(GoogleError::required(name));
            }
        }
        Ok(())
    }

    /// Checks the request body has every field the document marks required for this method.
    pub fn check_required_fields(&self, body: &Value) -> Result<(), GoogleError> {
        for path in &self.required_fields {
            let mut current = body;
            for segment in path.split('.') {
                current = &current[segment];
            }
            let missing = match current {
                Value::Null => true,
                Value::String(s) => s.trim().is_empty(),
                Value::Array(items) => items.is_empty(),
                _ => false,
            };
            if missing {
                return Err(GoogleError::new(
                    400,
                    "required",
                    format!("Invalid Input: {path} is required"),
                )
                .with_location(path, "body"));
            }
        }
        Ok(())
    }

    /// `maxResults` default and upper bound for paging.
    pub fn page_limits(&self, fallback_default: usize) -> (usize, usize) {
        let spec = self.params.get("maxResults");
        let maximum = spec
            .and_then(|s| s.maximum)
            .map(|m| m as usize)
            .unwrap_or(fallback_default);
        (fallback_default.min(maximum), maximum)
    }
}

/// A discovery document with `rootUrl` (and `baseUrl`, `mtlsRootUrl`) pointing at `root_url`.
pub fn rewritten_document(api: Api, root_url: &str) -> Value {
    let mut doc: Value = serde_json::from_str(api.document()).unwrap_or(Value::Null);
    let service_path = doc["servicePath"].as_str().unwrap_or_default().to_owned();
    doc["rootUrl"] = Value::String(root_url.to_owned());
    doc["mtlsRootUrl"] = Value::String(root_url.to_owned());
    doc["baseUrl"] = Value::String(format!("{root_url}{service_path}"));
    doc
}
