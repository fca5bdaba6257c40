//! A fake LLM provider speaking OpenAI's chat completions protocol (and, standalone,
//! Anthropic's Messages API). It serves two
//! masters: the built-in `mock` provider (answers inside Tollgate, so a fresh
//! install works without keys) and the standalone `mock-upstream` server that tests
//! and benchmarks point providers at.

pub mod anthropic;
pub mod openai;
pub mod server;

pub use server::{MockOptions, MockUpstream};
