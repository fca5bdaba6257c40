//! The chat completion request as the gateway sees it: only what routing needs
//! (`model`, `stream`, `stream_options`) is read; every other field is carried
//! as raw JSON and forwarded byte for byte.

use std::{fmt, marker::PhantomData};

use bytes::Bytes;
use serde::{
    de::{MapAccess, Visitor},
    Deserialize, Deserializer,
};
use serde_json::{value::RawValue, Map, Value};

use crate::error::OpenAiError;

const ROLES: &[&str] = &["system", "developer", "user", "assistant", "tool", "function"];

/// A JSON object as its fields in order, values left raw.
struct RawObject<'a>(Vec<(String, &'a RawValue)>);

impl<'de: 'a, 'a> Deserialize<'de> for RawObject<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for ObjectVisitor<'a> {
            type Value = RawObject<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
                let mut fields = Vec::new();
                while let Some((key, value)) = map.next_entry::<String, &'de RawValue>()? {
                    fields.push((key, value));
                }
                Ok(RawObject(fields))
            }
        }
        deserializer.deserialize_map(ObjectVisitor(PhantomData))
    }
}

#[derive(Deserialize)]
struct MessagePeek<'a> {
    #[serde(borrow)]
    role: Option<std::borrow::Cow<'a, str>>,
}

pub struct ChatRequest<'a> {
    pub model: String,
    pub stream: bool,
    /// The client asked for the usage chunk (`stream_options.include_usage`).
    pub wants_usage: bool,
    fields: Vec<(String, &'a RawValue)>,
}

impl<'a> ChatRequest<'a> {
    pub fn parse(body: &'a [u8]) -> Result<Self, OpenAiError> {
        let RawObject(fields) = serde_json::from_slice(body).map_err(|e| {
            OpenAiError::invalid_json(format!(
                "We could not parse the JSON body of your request ({e}). The body must be a JSON object."
            ))
        })?;
        let field = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.get());

        let model = match field("model").map(serde_json::from_str::<Value>) {
            None | Some(Ok(Value::Null)) => {
                return Err(OpenAiError::invalid_request("you must provide a model parameter").with_param("model"))
            }
            Some(Ok(Value::String(m))) if !m.trim().is_empty() => m,
            _ => return Err(OpenAiError::invalid_request("'model' must be a non-empty string").with_param("model")),
        };

        let messages = field("messages").ok_or_else(|| {
            OpenAiError::invalid_request("Missing required parameter: 'messages'").with_param("messages")
        })?;
        let messages: Vec<MessagePeek> = serde_json::from_str(messages).map_err(|_| {
            OpenAiError::invalid_request("'messages' must be an array of message objects").with_param("messages")
        })?;
        if messages.is_empty() {
            return Err(
                OpenAiError::invalid_request("'messages' must contain at least one message").with_param("messages")
            );
        }
        for (i, message) in messages.iter().enumerate() {
            match message.role.as_deref() {
                Some(role) if ROLES.contains(&role) => {}
                _ => {
                    return Err(OpenAiError::invalid_request(format!(
                        "messages[{i}].role must be one of {}",
                        ROLES.join(", ")
                    ))
                    .with_param("messages"))
                }
            }
        }

        let stream = match field("stream").map(serde_json::from_str::<Option<bool>>) {
            None => false,
            Some(Ok(flag)) => flag.unwrap_or(false),
            Some(Err(_)) => return Err(OpenAiError::invalid_request("'stream' must be a boolean").with_param("stream")),
        };
        let wants_usage = match field("stream_options").map(serde_json::from_str::<Option<Map<String, Value>>>) {
            None | Some(Ok(None)) => false,
            Some(Ok(Some(options))) => match options.get("include_usage") {
                None | Some(Value::Null) => false,
                Some(Value::Bool(flag)) => *flag,
                Some(_) => {
                    return Err(OpenAiError::invalid_request("'stream_options.include_usage' must be a boolean")
                        .with_param("stream_options"))
                }
            },
            Some(Err(_)) => {
                return Err(
                    OpenAiError::invalid_request("'stream_options' must be an object").with_param("stream_options")
                )
            }
        };
        Ok(Self { model, stream, wants_usage, fields })
    }

    /// The body for the provider: the original bytes when nothing has to change;
    /// otherwise the same fields in the same order with the upstream model id and,
    /// when streaming, `stream_options.include_usage` turned on so usage is metered.
    pub fn upstream_body(&self, original: &Bytes, upstream_model: &str) -> Bytes {
        let ask_usage = self.stream && !self.wants_usage;
        if self.model == upstream_model && !ask_usage {
            return original.clone();
        }
        let mut out = Vec::with_capacity(original.len() + 64);
        out.push(b'{');
        let mut first = true;
        let mut push = |out: &mut Vec<u8>, key: &str, value: &[u8]| {
            if !first {
                out.push(b',');
            }
            first = false;
            serde_json::to_writer(&mut *out, key).expect("a string serializes");
            out.push(b':');
            out.extend_from_slice(value);
        };
        for (key, value) in &self.fields {
            match key.as_str() {
                "model" => push(&mut out, key, &serde_json::to_vec(upstream_model).expect("a string serializes")),
                "stream_options" if ask_usage => {}
                _ => push(&mut out, key, value.get().as_bytes()),
            }
        }
        if ask_usage {
            let mut options: Map<String, Value> = self
                .fields
                .iter()
                .find(|(k, _)| k == "stream_options")
                .and_then(|(_, v)| serde_json::from_str(v.get()).ok())
                .unwrap_or_default();
            options.insert("include_usage".into(), Value::Bool(true));
            push(&mut out, "stream_options", &serde_json::to_vec(&options).expect("a map serializes"));
        }
        out.push(b'}');
        Bytes::from(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> Result<ChatRequest<'_>, OpenAiError> {
        ChatRequest::parse(body.as_bytes())
    }

    #[test]
    fn reads_only_what_routing_needs() {
        let req = parse(r#"{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"stream":true,"stream_options":{"include_usage":true}}"#).unwrap();
        assert_eq!((req.model.as_str(), req.stream, req.wants_usage), ("gpt-4o", true, true));
        let req = parse(r#"{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"stream":null}"#).unwrap();
        assert!(!req.stream && !req.wants_usage);
    }

    #[test]
    fn a_body_that_needs_no_change_is_forwarded_byte_for_byte() {
        let body = Bytes::from_static(
            br#"{ "model" : "gpt-4o", "messages":[{"role":"user","content":"h\u00e9"}], "temperature": 0.70 }"#,
        );
        let req = ChatRequest::parse(&body).unwrap();
        assert_eq!(req.upstream_body(&body, "gpt-4o"), body);
    }

    #[test]
    fn the_upstream_model_and_usage_request_are_written_in_keeping_the_rest() {
        let body = Bytes::from_static(
            br#"{"model":"openai/gpt-4o","messages":[{"role":"user","content":"hi"}],"temperature":0.70,"stream":true,"stream_options":{"x":1}}"#,
        );
        let req = ChatRequest::parse(&body).unwrap();
        let out: Value = serde_json::from_slice(&req.upstream_body(&body, "gpt-4o")).unwrap();
        assert_eq!(out["model"], "gpt-4o");
        assert_eq!(out["stream_options"], serde_json::json!({"x": 1, "include_usage": true}));
        assert_eq!(out["temperature"].to_string(), "0.7");
        assert_eq!(out["messages"][0]["content"], "hi");
    }

    #[test]
    fn bad_bodies_are_explained() {
        let cases = [
            ("not json", "invalid_json", None),
            ("[1,2]", "invalid_json", None),
            (r#"{"messages":[{"role":"user","content":"hi"}]}"#, "", Some("model")),
            (r#"{"model":42,"messages":[{"role":"user","content":"hi"}]}"#, "", Some("model")),
            (r#"{"model":"gpt-4o"}"#, "", Some("messages")),
            (r#"{"model":"gpt-4o","messages":"hi"}"#, "", Some("messages")),
            (r#"{"model":"gpt-4o","messages":[]}"#, "", Some("messages")),
            (r#"{"model":"gpt-4o","messages":[{"role":"wizard","content":"hi"}]}"#, "", Some("messages")),
            (r#"{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"stream":"yes"}"#, "", Some("stream")),
            (
                r#"{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"stream_options":3}"#,
                "",
                Some("stream_options"),
            ),
        ];
        for (body, code, param) in cases {
            let err = parse(body).err().unwrap_or_else(|| panic!("{body} must be rejected"));
            assert_eq!(err.status.as_u16(), 400, "{body}");
            assert_eq!(err.param, param, "{body}");
            if !code.is_empty() {
                assert_eq!(err.code, Some(code), "{body}");
            }
        }
    }
}
