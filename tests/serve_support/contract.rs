//! The API contract: `web/openapi.json`, the document the server serves at `/openapi.json`, read back
//! and each response schema compiled by a JSON Schema (2020-12) validator, the `jsonschema` crate, so a
//! test checks a real answer against exactly what the document promises.

use std::collections::HashMap;

use serde_json::{Value, json};

/// Every response schema of the document, compiled.
pub struct Contract {
    document: Value,
    validators: HashMap<(String, u16), jsonschema::Validator>,
}

impl Contract {
    /// Compile every `application/json` response schema of `document` (the server's `/openapi.json`).
    /// A schema that is not valid JSON Schema fails here.
    pub fn new(document: Value) -> Contract {
        assert_eq!(document["openapi"], "3.1.0");
        let mut validators = HashMap::new();
        for (path, item) in document["paths"].as_object().unwrap() {
            for (status, response) in item["get"]["responses"].as_object().unwrap() {
                let response = resolve(&document, response);
                let Some(schema) = response["content"]["application/json"].get("schema") else {
                    continue;
                };
                validators.insert(
                    (path.clone(), status.parse().unwrap()),
                    compile(&document, schema),
                );
            }
        }
        Contract {
            document,
            validators,
        }
    }

    /// The validator of a named component schema (`#/components/schemas/NAME`).
    pub fn component(&self, name: &str) -> jsonschema::Validator {
        assert!(
            self.document["components"]["schemas"].get(name).is_some(),
            "no schema {name}"
        );
        compile(
            &self.document,
            &json!({"$ref": format!("#/components/schemas/{name}")}),
        )
    }

    /// Whether `answer` is what `path` (an OpenAPI path template) documents for `status`.
    pub fn errors(&self, path: &str, status: u16, answer: &Value) -> Vec<String> {
        let validator = self
            .validators
            .get(&(path.to_string(), status))
            .unwrap_or_else(|| panic!("the document has no JSON {status} answer for {path}"));
        validator
            .iter_errors(answer)
            .map(|error| format!("{}: {error}", error.instance_path()))
            .collect()
    }

    /// Assert `answer` matches `path`'s schema for `status`.
    pub fn check(&self, path: &str, status: u16, answer: &Value) {
        let errors = self.errors(path, status, answer);
        assert!(
            errors.is_empty(),
            "the {status} answer of {path} does not match its schema:\n{}\n{answer:#}",
            errors.join("\n")
        );
    }

    /// How many (path, status) pairs have a JSON schema.
    pub fn len(&self) -> usize {
        self.validators.len()
    }
}

/// `value`, or what its `$ref` (`#/components/...`) points to.
fn resolve<'a>(document: &'a Value, value: &'a Value) -> &'a Value {
    match value["$ref"].as_str() {
        Some(pointer) => document
            .pointer(pointer.trim_start_matches('#'))
            .unwrap_or_else(|| panic!("dangling $ref {pointer}")),
        None => value,
    }
}

/// `schema` compiled with the document's components beside it, so its `#/components/...` references
/// resolve; formats (`date-time`) are checked too.
fn compile(document: &Value, schema: &Value) -> jsonschema::Validator {
    let mut root = schema.clone();
    root["$schema"] = json!("https://json-schema.org/draft/2020-12/schema");
    root["components"] = document["components"].clone();
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .should_validate_formats(true)
        .build(&root)
        .unwrap_or_else(|error| panic!("schema does not compile: {error}\n{schema:#}"))
}
