//! Integration tests: the real app over real HTTP, against real storage, with the
//! project's mock-upstream standing in for the LLM providers.

mod helpers;

mod accounts;
mod analytics;
mod anthropic;
mod anthropic_sdk;
mod chat;
mod cli;
mod clickhouse;
mod current_clickhouse;
mod failover;
mod gateways;
mod hostile;
mod lifecycle;
mod limits;
mod messages;
mod openai_sdk;
mod operations;
mod pipeline;
mod provider_keys;
mod scale_out;
mod storage;
mod timing;
mod usage;
