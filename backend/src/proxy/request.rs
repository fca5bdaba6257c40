//! The request as the gateway sees it, on either surface (an OpenAI chat
//! completion, or an Anthropic Messages API request): only what routing needs
//! (`model`, `stream`, `stream_options`) is read and `messages` checked; every
//! other field is carried as raw JSON and forwarded byte for byte.

use std::{borrow::Cow, collections::HashSet, fmt, marker::PhantomData};

use bytes::Bytes;
use serde::{
    de::{MapAccess, Visitor},
    Deserialize, Deserializer,
};
use serde_json::{value::RawValue, Map, Value};

use crate::error::OpenAiError;

const ROLES: &[&str] = &["system", "developer", "user", "assistant", "tool", "function"];
const ANTHROPIC_ROLES: &[&str] = &["user", "assistant"];

/// A JSON object as its fields in order, values left raw. A key that appears
/// twice is an error: parsers disagree on which copy wins (serde keeps the first
/// here, Python's json and most providers the last), so the meter could read one
/// request while the provider runs another.
struct RawObject<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

/// The message of a repeated-key error, recognised again in `ChatRequest::parse`.
const DUPLICATE_KEY: &str = "duplicate key ";

impl<'de: 'a, 'a> Deserialize<'de> for RawObject<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for ObjectVisitor<'a> {
            type Value = RawObject<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
                let mut fields: Vec<(Cow<'de, str>, &'de RawValue)> = Vec::with_capacity(16);
                // A scan is cheapest for the few keys of a real request; a set keeps
                // an object of a million keys linear.
                let mut seen: Option<HashSet<Cow<'de, str>>> = None;
                // Keys are borrowed from the body unless they hold escapes.
                while let Some((Key(key), value)) = map.next_entry::<Key<'de>, &'de RawValue>()? {
                    let repeated = match &mut seen {
                        Some(seen) => !seen.insert(key.clone()),
                        None if fields.len() < 16 => fields.iter().any(|(k, _)| *k == key),
                        None => {
                            let set = seen.insert(fields.iter().map(|(k, _)| k.clone()).collect());
                            !set.insert(key.clone())
                        }
                    };
                    if repeated {
                        return Err(serde::de::Error::custom(format_args!("{DUPLICATE_KEY}{key:?}")));
                    }
                    fields.push((key, value));
                }
                Ok(RawObject(fields))
            }
        }
        deserializer.deserialize_map(ObjectVisitor(PhantomData))
    }
}

pub use crate::catalog::MAX_MODEL_BYTES;

/// A JSON object key, borrowed from the body when it holds no escape.
struct Key<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Key<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for KeyVisitor<'a> {
            type Value = Key<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, key: &'de str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Borrowed(key)))
            }
            fn visit_str<E>(self, key: &str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(key.to_owned())))
            }
            fn visit_string<E>(self, key: String) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(key)))
            }
        }
        deserializer.deserialize_str(KeyVisitor(PhantomData))
    }
}

#[derive(Deserialize)]
struct MessagePeek<'a> {
    #[serde(borrow)]
    role: Option<Key<'a>>,
}

/// `messages`, checked as it is read (each message an object with a role the
/// surface knows: OpenAI's, or with `ANTHROPIC` Anthropic's), without collecting it.
struct Messages<const ANTHROPIC: bool>;

impl<const ANTHROPIC: bool> Messages<ANTHROPIC> {
    const ROLES: &'static [&'static str] = if ANTHROPIC { ANTHROPIC_ROLES } else { ROLES };
}

impl<'de, const ANTHROPIC: bool> Deserialize<'de> for Messages<ANTHROPIC> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MessagesVisitor<const ANTHROPIC: bool>;
        impl<'de, const ANTHROPIC: bool> Visitor<'de> for MessagesVisitor<ANTHROPIC> {
            type Value = Messages<ANTHROPIC>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an array of message objects")
            }
            fn visit_seq<S: serde::de::SeqAccess<'de>>(self, mut seq: S) -> Result<Messages<ANTHROPIC>, S::Error> {
                let mut index = 0;
                while let Some(message) = seq.next_element::<MessagePeek<'de>>()? {
                    if !message.role.is_some_and(|Key(role)| Messages::<ANTHROPIC>::ROLES.contains(&&*role)) {
                        return Err(serde::de::Error::custom(format_args!("{BAD_ROLE}{index}")));
                    }
                    index += 1;
                }
                if index == 0 {
                    return Err(serde::de::Error::custom(NO_MESSAGES));
                }
                Ok(Messages)
            }
        }
        deserializer.deserialize_seq(MessagesVisitor::<ANTHROPIC>)
    }
}

const BAD_ROLE: &str = "bad role at ";
const NO_MESSAGES: &str = "no messages";

pub struct ChatRequest<'a> {
    pub model: Cow<'a, str>,
    pub stream: bool,
    /// The client asked for the usage chunk (`stream_options.include_usage`).
    pub wants_usage: bool,
    /// Passed on, the request needs `stream_options.include_usage` turned on for
    /// metering (an OpenAI stream that did not ask for it).
    ask_usage: bool,
    fields: Vec<(Cow<'a, str>, &'a RawValue)>,
}

impl<'a> ChatRequest<'a> {
    /// An OpenAI chat completion request.
    pub fn parse(body: &'a [u8]) -> Result<Self, OpenAiError> {
        Self::read::<false>(body)
    }

    /// An Anthropic Messages API request: `max_tokens` is required, `messages` hold
    /// user and assistant turns only.
    pub fn parse_messages(body: &'a [u8]) -> Result<Self, OpenAiError> {
        let request = Self::read::<true>(body)?;
        match request.field("max_tokens").map(|raw| raw.parse::<u64>()) {
            Some(Ok(n)) if n > 0 => Ok(request),
            None => Err(OpenAiError::invalid_request("max_tokens: Field required").with_param("max_tokens")),
            Some(_) => {
                Err(OpenAiError::invalid_request("max_tokens: must be a positive integer").with_param("max_tokens"))
            }
        }
    }

    /// An Anthropic `count_tokens` request: a Messages API request without `max_tokens`.
    pub fn parse_count(body: &'a [u8]) -> Result<Self, OpenAiError> {
        Self::read::<true>(body)
    }

    /// A top-level field's raw JSON.
    pub fn field(&self, name: &str) -> Option<&'a str> {
        self.fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.get())
    }

    fn read<const ANTHROPIC: bool>(body: &'a [u8]) -> Result<Self, OpenAiError> {
        let RawObject(fields) = serde_json::from_slice(body).map_err(|e| object_error(&e, "your request"))?;
        let field = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.get());

        let model = match field("model") {
            None | Some("null") => {
                return Err(OpenAiError::invalid_request("you must provide a model parameter").with_param("model"))
            }
            // Longer than any model name could be once unescaped: not worth decoding.
            Some(raw) if raw.len() > MAX_MODEL_BYTES * 6 + 2 => return Err(model_too_long()),
            Some(raw) => match serde_json::from_str::<Key<'a>>(raw) {
                Ok(Key(m)) if m.len() > MAX_MODEL_BYTES => return Err(model_too_long()),
                Ok(Key(m)) if !m.trim().is_empty() => m,
                _ => return Err(OpenAiError::invalid_request("'model' must be a non-empty string").with_param("model")),
            },
        };

        let messages = field("messages").ok_or_else(|| {
            OpenAiError::invalid_request("Missing required parameter: 'messages'").with_param("messages")
        })?;
        if let Err(error) = serde_json::from_str::<Messages<ANTHROPIC>>(messages) {
            let text = error.to_string();
            let message = if text.starts_with(NO_MESSAGES) {
                "'messages' must contain at least one message".to_string()
            } else if let Some(rest) = text.strip_prefix(BAD_ROLE) {
                let index = rest.split(' ').next().unwrap_or("?");
                format!("messages[{index}].role must be one of {}", Messages::<ANTHROPIC>::ROLES.join(", "))
            } else {
                "'messages' must be an array of message objects".to_string()
            };
            return Err(OpenAiError::invalid_request(message).with_param("messages"));
        }

        let stream = match field("stream").map(serde_json::from_str::<Option<bool>>) {
            None => false,
            Some(Ok(flag)) => flag.unwrap_or(false),
            Some(Err(_)) => return Err(OpenAiError::invalid_request("'stream' must be a boolean").with_param("stream")),
        };
        let wants_usage = match field("stream_options") {
            None | Some("null") => false,
            Some(_) if ANTHROPIC => false,
            Some(raw) => {
                let RawObject(options) = serde_json::from_str(raw).map_err(|e| {
                    let error = object_error(&e, "'stream_options'");
                    match error.code {
                        Some("invalid_json") => OpenAiError::invalid_request("'stream_options' must be an object"),
                        _ => error,
                    }
                    .with_param("stream_options")
                })?;
                match options.iter().find(|(k, _)| k == "include_usage").map(|(_, v)| v.get()) {
                    None | Some("null") | Some("false") => false,
                    Some("true") => true,
                    Some(_) => {
                        return Err(OpenAiError::invalid_request("'stream_options.include_usage' must be a boolean")
                            .with_param("stream_options"))
                    }
                }
            }
        };
        let ask_usage = !ANTHROPIC && stream && !wants_usage;
        Ok(Self { model, stream, wants_usage, ask_usage, fields })
    }

    /// Whether the provider needs other bytes than the client sent.
    pub fn needs_rewrite(&self, upstream_model: &str) -> bool {
        *self.model != *upstream_model || self.ask_usage
    }

    /// The body for the provider: the original bytes when nothing has to change;
    /// otherwise the same fields in the same order with the upstream model id and,
    /// for an OpenAI stream, `stream_options.include_usage` turned on so usage is metered.
    pub fn upstream_body(&self, original: &Bytes, upstream_model: &str) -> Bytes {
        if !self.needs_rewrite(upstream_model) {
            return original.clone();
        }
        let ask_usage = self.ask_usage;
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
            match &**key {
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

fn model_too_long() -> OpenAiError {
    OpenAiError::invalid_request(format!("'model' must be at most {MAX_MODEL_BYTES} bytes long")).with_param("model")
}

/// Why an object did not parse: a repeated key is named; anything else is bad JSON.
fn object_error(error: &serde_json::Error, what: &str) -> OpenAiError {
    let text = error.to_string();
    match text.strip_prefix(DUPLICATE_KEY) {
        Some(rest) => {
            let key = rest.rsplit_once(" at line ").map_or(rest, |(key, _)| key);
            OpenAiError::invalid_request(format!(
                "The JSON object of {what} repeats the key {key}. Send each key once: providers and gateways \
                 disagree on which copy counts."
            ))
        }
        None => OpenAiError::invalid_json(format!(
            "We could not parse the JSON body of {what} ({text}). The body must be a JSON object."
        )),
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
        assert_eq!((&*req.model, req.stream, req.wants_usage), ("gpt-4o", true, true));
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
    fn a_repeated_key_is_refused_and_named() {
        // A provider keeps the last copy of a key: with two `stream`s it would stream
        // while the meter saw a whole answer; with two `model`s it would run the dear one.
        for (body, key) in [
            (
                r#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"stream":false,"stream":true}"#,
                "stream",
            ),
            (r#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"model":"gpt-4o"}"#, "model"),
            (r#"{"model":"gpt-4o","mod\u0065l":"o1","messages":[{"role":"user","content":"hi"}]}"#, "model"),
            (
                r#"{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"stream":true,"stream_options":{"include_usage":false,"include_usage":true}}"#,
                "include_usage",
            ),
        ] {
            let err = parse(body).err().unwrap_or_else(|| panic!("{body} must be refused"));
            assert_eq!((err.status.as_u16(), err.kind), (400, "invalid_request_error"), "{body}");
            assert!(err.message.contains(&format!("\"{key}\"")), "{} names {key}", err.message);
        }
        // Keys repeated deeper down are the provider's business, not the meter's.
        let nested = r#"{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"metadata":{"a":1,"a":2}}"#;
        assert!(parse(nested).is_ok());
    }

    #[test]
    fn a_huge_object_is_checked_for_repeats_in_linear_time() {
        let mut body = String::from(r#"{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]"#);
        for i in 0..200_000 {
            body.push_str(&format!(r#","k{i}":0"#));
        }
        body.push_str(r#","k7":1}"#);
        let err = parse(&body).err().expect("the repeated k7 is found");
        assert!(err.message.contains("\"k7\""));
    }

    #[test]
    fn the_fields_the_gateway_acts_on_are_type_checked() {
        let long = "m".repeat(MAX_MODEL_BYTES + 1);
        let cases = [
            (format!(r#"{{"model":"{long}","messages":[{{"role":"user","content":"hi"}}]}}"#), "model"),
            (r#"{"model":"","messages":[{"role":"user","content":"hi"}]}"#.to_string(), "model"),
            (r#"{"model":["gpt-4o"],"messages":[{"role":"user","content":"hi"}]}"#.to_string(), "model"),
            (r#"{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"stream":1}"#.to_string(), "stream"),
            (r#"{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"stream":"true"}"#.to_string(), "stream"),
            (
                r#"{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"stream_options":[]}"#.to_string(),
                "stream_options",
            ),
            (
                r#"{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"stream_options":{"include_usage":"yes"}}"#
                    .to_string(),
                "stream_options",
            ),
        ];
        for (body, param) in cases {
            let err = parse(&body).err().unwrap_or_else(|| panic!("{body} must be refused"));
            assert_eq!((err.status.as_u16(), err.param), (400, Some(param)), "{body}");
        }
        let longest = "m".repeat(MAX_MODEL_BYTES);
        let body = format!(r#"{{"model":"{longest}","messages":[{{"role":"user","content":"hi"}}]}}"#);
        assert_eq!(parse(&body).unwrap().model, longest);
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

    mod properties {
        use proptest::prelude::*;

        use super::*;

        fn json_value() -> impl Strategy<Value = String> {
            let leaf = prop_oneof![
                Just("null".to_string()),
                any::<bool>().prop_map(|b| b.to_string()),
                any::<i32>().prop_map(|n| n.to_string()),
                "[a-z0-9/ .-]{0,12}".prop_map(|s| Value::String(s).to_string()),
                Just(r#""mock/echo""#.to_string()),
                Just(r#""openai/gpt-4o""#.to_string()),
            ];
            leaf.prop_recursive(3, 24, 4, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..4).prop_map(|v| format!("[{}]", v.join(","))),
                    prop::collection::vec((key(), inner), 0..4).prop_map(|fields| object(&fields)),
                ]
            })
        }

        fn key() -> impl Strategy<Value = String> {
            prop_oneof![
                Just("model".to_string()),
                Just("stream".to_string()),
                Just("stream_options".to_string()),
                Just("include_usage".to_string()),
                Just("messages".to_string()),
                "[a-z_]{1,8}",
            ]
        }

        fn object(fields: &[(String, String)]) -> String {
            let fields: Vec<String> = fields.iter().map(|(k, v)| format!("{}:{v}", Value::String(k.clone()))).collect();
            format!("{{{}}}", fields.join(","))
        }

        /// Top-level objects that are often nearly valid requests, repeated keys included.
        fn request() -> impl Strategy<Value = String> {
            let messages = prop_oneof![Just(r#"[{"role":"user","content":"hi"}]"#.to_string()), json_value(),];
            (prop::collection::vec((key(), json_value()), 0..6), messages, any::<bool>()).prop_map(
                |(mut fields, messages, with_messages)| {
                    if with_messages {
                        fields.push(("messages".to_string(), messages));
                    }
                    object(&fields)
                },
            )
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(2000))]

            #[test]
            fn what_is_metered_is_what_the_provider_reads(body in request(), rename in any::<bool>()) {
                let body = Bytes::from(body);
                let Ok(chat) = ChatRequest::parse(&body) else { return Ok(()) };
                let upstream_model = if rename { "renamed-upstream" } else { &chat.model }.to_string();
                let sent = chat.upstream_body(&body, &upstream_model);
                // Read the way a provider reads it: the last copy of a key wins.
                let provider: Value = serde_json::from_slice(&sent).expect("the gateway sends JSON");
                prop_assert_eq!(provider["model"].as_str(), Some(upstream_model.as_str()));
                prop_assert_eq!(provider["stream"].as_bool().unwrap_or(false), chat.stream);
                if chat.stream {
                    prop_assert_eq!(provider["stream_options"]["include_usage"].as_bool(), Some(true));
                }
            }

            #[test]
            fn no_byte_string_makes_the_parser_panic(body in prop::collection::vec(any::<u8>(), 0..256)) {
                let _ = ChatRequest::parse(&body);
            }
        }
    }
}
