//! One top-level field of a JSON object, found without parsing the rest: metering
//! reads an answer's `usage` and nothing else, and an answer is mostly the text of
//! its content. Strings are skipped with `memchr`, nested values by counting their
//! brackets; only the field found is parsed, by serde. Nothing here validates the
//! document: from an answer that is not JSON a field may be read where a parser
//! would have refused the whole. In a valid document, a field nested deeper is never
//! taken for it.

use serde::de::DeserializeOwned;

/// The raw JSON of `key`'s value in the object `json`, at its top level.
pub fn field<'a>(json: &'a [u8], key: &str) -> Option<&'a [u8]> {
    let mut at = skip_space(json, 0);
    if json.get(at) != Some(&b'{') {
        return None;
    }
    at = skip_space(json, at + 1);
    loop {
        if json.get(at) != Some(&b'"') {
            return None;
        }
        let name_end = string_end(json, at)?;
        let name = &json[at..name_end];
        at = skip_space(json, name_end);
        if json.get(at) != Some(&b':') {
            return None;
        }
        at = skip_space(json, at + 1);
        let value_end = value_end(json, at)?;
        if is_key(name, key) {
            return Some(&json[at..value_end]);
        }
        at = skip_space(json, value_end);
        if json.get(at) != Some(&b',') {
            return None;
        }
        at = skip_space(json, at + 1);
    }
}

/// `key`'s value in the object `json`, when it is there and reads as a `T` (a
/// `null` does not read as a struct).
pub fn read<T: DeserializeOwned>(json: &[u8], key: &str) -> Option<T> {
    serde_json::from_slice(field(json, key)?).ok()
}

/// Whether the quoted string `name` says `key` (escapes are rare in keys: decoded
/// only when there are some).
fn is_key(name: &[u8], key: &str) -> bool {
    let inner = &name[1..name.len() - 1];
    match inner.contains(&b'\\') {
        false => inner == key.as_bytes(),
        true => serde_json::from_slice::<String>(name).is_ok_and(|name| name == key),
    }
}

/// JSON's whitespace.
fn is_space(b: &u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

fn skip_space(json: &[u8], mut at: usize) -> usize {
    while json.get(at).is_some_and(is_space) {
        at += 1;
    }
    at
}

/// Just past the string whose opening quote is at `at`.
fn string_end(json: &[u8], at: usize) -> Option<usize> {
    let mut i = at + 1;
    loop {
        i += memchr::memchr2(b'"', b'\\', json.get(i..)?)?;
        match json[i] {
            b'"' => return Some(i + 1),
            // A backslash: the byte after it is escaped, a quote included.
            _ => i += 2,
        }
    }
}

/// Just past the value that starts at `at`.
fn value_end(json: &[u8], at: usize) -> Option<usize> {
    match *json.get(at)? {
        b'"' => string_end(json, at),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut i = at;
            loop {
                match *json.get(i)? {
                    b'"' => {
                        i = string_end(json, i)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(i + 1);
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
        }
        // A number, `true`, `false` or `null`: up to what ends it.
        _ => {
            let len = json[at..].iter().position(|b| matches!(b, b',' | b'}' | b']') || is_space(b));
            match len {
                Some(0) => None,
                Some(len) => Some(at + len),
                None => Some(json.len()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;
    use serde_json::Value;

    use super::*;

    /// The usage, unless there is none or it is `null`.
    fn usage(json: &str) -> Option<Value> {
        read::<Option<Value>>(json.as_bytes(), "usage").flatten()
    }

    #[test]
    fn finds_a_top_level_field_wherever_it_stands() {
        let u = r#"{"prompt_tokens":13,"completion_tokens":9}"#;
        for json in [
            format!(r#"{{"usage":{u},"id":"a"}}"#),
            format!(r#"{{"id":"a","usage":{u}}}"#),
            format!(r#"{{"id":"a","choices":[{{"index":0}}],"usage":{u},"system_fingerprint":null}}"#),
            format!(" {{ \"id\" : \"a\" ,\n\t\"usage\" :\r\n {u} }} "),
        ] {
            assert_eq!(usage(&json), Some(serde_json::from_str(u).unwrap()), "{json}");
        }
        assert_eq!(field(br#"{"a":1,"b":true,"c":null,"d":-2.5e3}"#, "d"), Some(&b"-2.5e3"[..]));
        assert_eq!(field(br#"{"a":1,"b":true}"#, "b"), Some(&b"true"[..]));
        assert_eq!(field(br#"{"a":"x","b":[1,[2,{"c":3}]],"c":4}"#, "c"), Some(&b"4"[..]));
    }

    #[test]
    fn a_nested_field_of_the_same_name_is_not_it() {
        // Groq repeats the usage inside `x_groq`; a message may carry any object.
        let json = r#"{"choices":[{"message":{"usage":{"prompt_tokens":99}}}],"x_groq":{"usage":{"prompt_tokens":98}},"usage":{"prompt_tokens":1}}"#;
        assert_eq!(usage(json), Some(serde_json::json!({"prompt_tokens": 1})));
        assert_eq!(usage(r#"{"choices":[{"usage":{"prompt_tokens":99}}]}"#), None);
    }

    #[test]
    fn strings_may_hold_anything() {
        let json = r#"{"content":"a \"usage\": {\"prompt_tokens\": 99} }]{[ \\","tricky\"key":"\\\\","usage":{"prompt_tokens":1}}"#;
        assert_eq!(usage(json), Some(serde_json::json!({"prompt_tokens": 1})));
        assert_eq!(usage(r#"{"content":"usage","other":"usage"}"#), None);
        // A key written with escapes is still that key.
        assert_eq!(usage(r#"{"us\u0061ge":{"prompt_tokens":2}}"#), Some(serde_json::json!({"prompt_tokens": 2})));
    }

    #[test]
    fn no_field_where_there_is_none_or_no_object() {
        #[derive(Deserialize)]
        struct Tokens {
            #[allow(dead_code)]
            prompt_tokens: u64,
        }
        assert!(read::<Tokens>(br#"{"usage":null}"#, "usage").is_none());
        assert!(read::<Tokens>(br#"{"usage":{"prompt_tokens":"many"}}"#, "usage").is_none());
        assert!(read::<Tokens>(br#"{"usage":{"prompt_tokens":3}}"#, "usage").is_some());
        for json in [
            "",
            "null",
            "[]",
            "[{\"usage\":1}]",
            "{}",
            "{\"usage\":null}",
            "\"usage\"",
            "{\"usage\"",
            "{\"usage\":",
            "{\"usage\":{\"prompt_tokens\":1",
            "{\"a\":\"unterminated",
            "{\"a\" 1,\"usage\":{}}",
            "{\"a\":1 \"usage\":{}}",
            "{\"a\":\"\\",
            "{\"a\":,\"usage\":{}}",
        ] {
            assert_eq!(usage(json), None, "{json}");
        }
    }

    #[test]
    fn reads_the_same_usage_as_parsing_the_whole_answer() {
        #[derive(Deserialize)]
        struct Whole {
            usage: Option<Value>,
        }
        let answers = [
            r#"{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"Hello! {\"usage\":3}","refusal":null},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":13,"completion_tokens":9,"total_tokens":22,"prompt_tokens_details":{"cached_tokens":4}},"system_fingerprint":"fp"}"#,
            r#"{"id":"x","choices":[],"usage":null}"#,
            r#"{"id":"x","choices":[]}"#,
            r#"{"type":"message","content":[{"type":"text","text":"}"}],"usage":{"input_tokens":5,"output_tokens":7}}"#,
            r#"{"usage":{"prompt_tokens":1},"choices":[{"delta":{"content":"\\\"\\"}}]}"#,
        ];
        for answer in answers {
            let whole = serde_json::from_str::<Whole>(answer).unwrap().usage.filter(|u| !u.is_null());
            assert_eq!(usage(answer), whole, "{answer}");
        }
    }
}
