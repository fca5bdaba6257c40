//! Golden tests: each `golden/<name>.in.*` fixture (written from the examples in
//! Anthropic's and OpenAI's API references) is translated, and the result must
//! equal `golden/<name>.out.json` exactly. `UPDATE_GOLDEN=1` rewrites the expected
//! files from the code, for review in the diff.

use std::path::{Path, PathBuf};

use bytes::BytesMut;
use serde_json::{json, Value};

use super::{
    anthropic_answer, anthropic_request, anthropic_stream::AnthropicToOpenAi, openai_answer, openai_request,
    openai_stream::OpenAiToAnthropic,
};
use crate::{
    catalog::{Catalog, Usage},
    proxy::relay::{StreamDialect, StreamProgress},
};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src/proxy/translate/golden")
}

fn input(name: &str) -> Vec<u8> {
    std::fs::read(dir().join(name)).unwrap_or_else(|e| panic!("fixture {name}: {e}"))
}

/// Compares `actual` with the expected file (or rewrites it under UPDATE_GOLDEN=1).
fn check(name: &str, actual: Value) {
    let path = dir().join(format!("{name}.out.json"));
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, serde_json::to_string_pretty(&actual).unwrap() + "\n").unwrap();
        return;
    }
    let expected: Value = serde_json::from_slice(
        &std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e} (UPDATE_GOLDEN=1 writes it)", path.display())),
    )
    .unwrap();
    assert_eq!(actual, expected, "{name}: the translation differs from {}", path.display());
}

fn usage_json(usage: &Usage) -> Value {
    json!({"prompt": usage.prompt, "completion": usage.completion, "cached": usage.cached,
        "cache_write": usage.cache_write, "reasoning": usage.reasoning})
}

/// `created` is the clock's: fixed for comparison.
fn without_created(mut value: Value) -> Value {
    if value.get("created").is_some() {
        value["created"] = 0.into();
    }
    value
}

fn translate_request(name: &str) -> Value {
    let body = input(&format!("{name}.in.json"));
    let requested: Value = serde_json::from_slice(&body).unwrap();
    let route = Catalog::builtin().unwrap().resolve(requested["model"].as_str().unwrap()).unwrap();
    anthropic_request::translate(&body, &route.upstream_id, route.answer_limit()).unwrap()
}

#[test]
fn an_openai_conversation_becomes_a_messages_request() {
    // System and developer messages join the top-level system; sampling knobs that
    // Anthropic lacks (seed, penalties, logit_bias) are dropped; user becomes metadata.
    check("request_chat", translate_request("request_chat"));
}

#[test]
fn tools_tool_calls_tool_results_and_images_are_translated() {
    // Two tool results join one user turn with the question after them; images go
    // as base64 or URL sources; cache_control is kept; max_completion_tokens wins.
    check("request_tools", translate_request("request_tools"));
}

#[test]
fn max_tokens_defaults_to_the_models_output_limit() {
    // claude-opus-4-1 writes at most 32,000 tokens; a PDF goes as a document.
    check("request_defaults", translate_request("request_defaults"));
}

#[test]
fn a_message_becomes_a_chat_completion_with_its_usage() {
    for name in ["answer_text", "answer_tool_use"] {
        let (completion, usage) = anthropic_answer::completion(&input(&format!("{name}.in.json"))).unwrap();
        check(name, json!({"completion": without_created(completion), "metered": usage.as_ref().map(usage_json)}));
    }
}

#[test]
fn an_anthropic_error_keeps_its_type_and_message() {
    let (kind, message) = anthropic_answer::error(&input("answer_error.in.json")).unwrap();
    check("answer_error", anthropic_answer::openai_error_body(&kind, &message));
}

fn translate_stream(name: &str, include_usage: bool) -> Value {
    let text = String::from_utf8(input(&format!("{name}.in.sse"))).unwrap();
    let mut dialect = AnthropicToOpenAi::new(include_usage);
    let mut progress = StreamProgress::default();
    let mut chunks = Vec::new();
    for event in text.split_inclusive("\n\n") {
        let mut out = BytesMut::new();
        assert!(
            !dialect.event(event.as_bytes(), &mut progress, &mut out),
            "a translated event never passes as it came"
        );
        for data in std::str::from_utf8(&out).unwrap().split_terminator("\n\n") {
            let data = data.strip_prefix("data: ").expect("OpenAI events are data lines");
            chunks.push(if data == "[DONE]" {
                json!("[DONE]")
            } else {
                without_created(serde_json::from_str(data).unwrap())
            });
        }
    }
    json!({
        "chunks": chunks,
        "metered": progress.usage.as_ref().map(usage_json),
        "complete": progress.complete,
        "failure": progress.failure.map(|(status, f)| json!({"status": status, "type": f.kind, "message": f.message})),
    })
}

#[test]
fn a_text_stream_becomes_chunks_with_the_usage_chunk_when_asked() {
    check("stream_text", translate_stream("stream_text", true));
}

#[test]
fn tool_input_streams_as_tool_call_argument_deltas() {
    // The tool call is Anthropic's block 2 and OpenAI's tool call 0; thinking goes
    // out as reasoning_content; no usage chunk unless asked, yet usage is metered.
    check("stream_tool_use", translate_stream("stream_tool_use", false));
}

#[test]
fn an_error_event_mid_stream_is_passed_on_and_metered() {
    check("stream_error", translate_stream("stream_error", true));
}

// The other way: a client of the Messages API calling an OpenAI-compatible model.

#[test]
fn a_messages_request_becomes_an_openai_chat_request() {
    // Tool results lead their user turn as `tool` messages; thinking, top_k and
    // cache_control are dropped; OpenAI gets max_completion_tokens and the usage chunk.
    let body = input("messages_request.in.json");
    check("messages_request", openai_request::translate(&body, "gpt-4o-mini", "openai").unwrap());
}

#[test]
fn a_chat_completion_becomes_a_message() {
    // Anthropic's input_tokens leaves out the 1,024 cached tokens, which it names apart.
    let (message, usage) = openai_answer::message(&input("completion.in.json")).unwrap();
    check("completion", json!({"message": message, "metered": usage.as_ref().map(usage_json)}));
}

#[test]
fn chunks_become_anthropic_stream_events() {
    // Text then two tool calls: three content blocks, each started and stopped;
    // the usage chunk lands in message_delta.
    let text = String::from_utf8(input("chunks.in.sse")).unwrap();
    let mut dialect = OpenAiToAnthropic::new();
    let mut progress = StreamProgress::default();
    let mut events = Vec::new();
    for event in text.split_inclusive("\n\n") {
        let mut out = BytesMut::new();
        assert!(
            !dialect.event(event.as_bytes(), &mut progress, &mut out),
            "a translated event never passes as it came"
        );
        for event in std::str::from_utf8(&out).unwrap().split_terminator("\n\n") {
            let (name, data) = event.split_once('\n').unwrap();
            let data: Value = serde_json::from_str(data.strip_prefix("data: ").unwrap()).unwrap();
            assert_eq!(name.strip_prefix("event: "), data["type"].as_str(), "the event name is its type");
            events.push(data);
        }
    }
    check(
        "chunks",
        json!({"events": events, "metered": progress.usage.as_ref().map(usage_json), "complete": progress.complete}),
    );
}
