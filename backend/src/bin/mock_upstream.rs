//! `mock-upstream`: a fake provider speaking OpenAI's chat completions and Anthropic's
//! Messages API, for tests and benchmarks.

use std::{net::SocketAddr, time::Duration};

use clap::Parser;
use tollgate::mock_upstream::{MockOptions, MockUpstream};

#[derive(Parser)]
#[command(about = "A fake LLM provider, OpenAI- and Anthropic-compatible (echoes the last user message)")]
struct Args {
    #[arg(long, default_value = "127.0.0.1")]
    host: std::net::IpAddr,
    #[arg(long, default_value_t = 9999)]
    port: u16,
    /// Added before every answer, in milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Share of requests (0 to 1) answered with --error-status.
    #[arg(long, default_value_t = 0.0)]
    error_rate: f64,
    #[arg(long, default_value_t = 500)]
    error_status: u16,
    /// Pause between streamed chunks, in milliseconds.
    #[arg(long, default_value_t = 0)]
    chunk_delay_ms: u64,
    /// Keep the last 1000 requests for GET /_mock/requests.
    #[arg(long, default_value_t = false)]
    record: bool,
    #[arg(long, default_value_t = 2)]
    workers: usize,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    if !(0.0..=1.0).contains(&args.error_rate) {
        eprintln!("--error-rate must be between 0 and 1");
        std::process::exit(2);
    }
    let options = MockOptions {
        latency: Duration::from_millis(args.latency_ms),
        error_rate: args.error_rate,
        error_status: args.error_status,
        chunk_delay: Duration::from_millis(args.chunk_delay_ms),
        record: args.record,
    };
    let server = MockUpstream::start(SocketAddr::new(args.host, args.port), options, args.workers).await?;
    println!("mock-upstream listening on {} (OPENAI_BASE_URL={})", server.addr, server.base_url());
    tokio::signal::ctrl_c().await?;
    server.stop().await;
    Ok(())
}
