use tollgate::{config::Config, Tollgate};
use tracing_subscriber::{fmt, EnvFilter};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _ = dotenvy::dotenv();
    let json = std::env::var("LOG_FORMAT").is_ok_and(|f| f == "json");
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,tollgate=info"));
    if json {
        fmt().with_env_filter(filter).json().init();
    } else {
        fmt().with_env_filter(filter).init();
    }
    let config = Config::from_env()?;
    tracing::info!(?config, "starting Tollgate");
    let app = Tollgate::start(config, true).await?;
    app.wait().await
}
