use anyhow::Context;
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use clap::{Parser, Subcommand};
use tollgate::{
    config::{decode_master_key, replace_private, Config},
    db::Db,
    gateways::provider_keys::{self, Vault},
    Tollgate,
};
use tracing_subscriber::{fmt, EnvFilter};

/// Tollgate: a multi-tenant AI gateway. Settings come from the environment and
/// `.env` (see .env.example).
#[derive(Parser)]
#[command(name = "tollgate", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Start the server (what `tollgate` alone does).
    Serve,
    /// Re-encrypt every stored provider key under a new MASTER_KEY, then restart
    /// every process with it. Reads the current key from MASTER_KEY.
    RotateMasterKey {
        /// The new key: 64 hex digits or base64url (also read from NEW_MASTER_KEY).
        #[arg(long, env = "NEW_MASTER_KEY", hide_env_values = true, conflicts_with = "generate")]
        new_key: Option<String>,
        /// Make a new random key and print it.
        #[arg(long)]
        generate: bool,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let _ = dotenvy::dotenv();
    let json = std::env::var("LOG_FORMAT").is_ok_and(|f| f == "json");
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,tollgate=info"));
    if json {
        fmt().with_env_filter(filter).json().init();
    } else {
        fmt().with_env_filter(filter).init();
    }
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let config = Config::from_env()?;
            tracing::info!(?config, "starting Tollgate");
            let app = Tollgate::start(config, true).await?;
            app.wait().await
        }
        Command::RotateMasterKey { new_key, generate } => rotate_master_key(new_key, generate).await,
    }
}

async fn rotate_master_key(new_key: Option<String>, generate: bool) -> anyhow::Result<()> {
    let new_key = match (new_key, generate) {
        (Some(key), _) => decode_master_key(&key).context("the new key")?,
        (None, true) => rand::random(),
        (None, false) => anyhow::bail!("give the new key with --new-key (or NEW_MASTER_KEY), or --generate one"),
    };
    let config = Config::from_env()?;
    if new_key == config.master_key {
        anyhow::bail!("the new key is the current MASTER_KEY");
    }
    let url = config.database_url.clone();
    let db = tokio::task::spawn_blocking(move || Db::connect(&url, 1)).await??;
    let (old, new) = (Vault::new(&config.master_key), Vault::new(&new_key));
    let rotation = db.run(move |conn| provider_keys::rotate(conn, &old, &new)).await?.map_err(anyhow::Error::msg)?;
    println!(
        "Re-encrypted {} stored provider key(s) under the new key ({} already were).",
        rotation.resealed, rotation.already
    );
    // In development without MASTER_KEY, the generated key lives in the data dir.
    let generated = std::env::var("MASTER_KEY").map_or(true, |v| v.trim().is_empty());
    if generated {
        replace_private(&config.data_dir.join("master_key"), URL_SAFE_NO_PAD.encode(new_key).as_bytes())?;
        println!("The new key replaced {}.", config.data_dir.join("master_key").display());
    } else if generate {
        println!("New MASTER_KEY (set it on every process, then restart them): {}", hex::encode(new_key));
    } else {
        println!("Now set MASTER_KEY to the new key on every process and restart them.");
    }
    Ok(())
}
