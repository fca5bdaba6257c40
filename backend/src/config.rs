//! Settings, read once from the environment (and `.env`) and validated at start-up.

use std::{collections::HashMap, net::SocketAddr, path::PathBuf, time::Duration};

use anyhow::{bail, Context};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use rand::RngCore;

use crate::{
    catalog::providers::PROVIDERS,
    limits::{Limits, RedisDown},
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Environment {
    Development,
    Production,
}

/// Where one provider lives and which operator keys it may use.
#[derive(Clone, Default)]
pub struct ProviderSettings {
    pub base_url: Option<String>,
    pub api_keys: Vec<String>,
}

impl std::fmt::Debug for ProviderSettings {
    // Keys are secrets: only their number is shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderSettings")
            .field("base_url", &self.base_url.as_deref().map(redact_url))
            .field("api_keys", &format_args!("{} key(s)", self.api_keys.len()))
            .finish()
    }
}

#[derive(Clone)]
pub struct ClickHouseSettings {
    pub url: String,
    pub database: String,
    pub user: Option<String>,
    pub password: Option<String>,
}

impl std::fmt::Debug for ClickHouseSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClickHouseSettings")
            .field("url", &redact_url(&self.url))
            .field("database", &self.database)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .finish()
    }
}

/// What happens to a call for a model the catalog has no price for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnpricedModels {
    /// Served, and recorded as unpriced (never as free).
    Allow,
    /// Refused with a 400 that names `PRICING_FILE`.
    Reject,
}

/// The operator's limits for every gateway (open sign-up).
#[derive(Clone, Debug)]
pub struct LimitSettings {
    /// What a new gateway starts with.
    pub defaults: Limits,
    /// The most any gateway may have: a tenant may set lower, never higher.
    pub ceiling: Limits,
    pub max_gateways_per_user: Option<u64>,
    /// New accounts one client address may make a minute.
    pub joins_per_minute: u32,
}

/// Which providers' operator keys (`<PROVIDER>_API_KEY`) serve tenants at all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OperatorKeys {
    All,
    None,
    Only(Vec<String>),
}

impl OperatorKeys {
    fn parse(raw: &str) -> anyhow::Result<Self> {
        match raw.trim() {
            "all" => Ok(Self::All),
            "none" => Ok(Self::None),
            list => {
                let names: Vec<String> =
                    list.split(',').map(|n| n.trim().to_ascii_lowercase()).filter(|n| !n.is_empty()).collect();
                if let Some(unknown) = names.iter().find(|n| !PROVIDERS.iter().any(|p| p.name == n.as_str())) {
                    bail!("OPERATOR_KEYS must be all, none or a comma-separated list of providers: {unknown:?} is not one");
                }
                Ok(Self::Only(names))
            }
        }
    }

    pub fn allows(&self, provider: &str) -> bool {
        match self {
            Self::All => true,
            Self::None => false,
            Self::Only(names) => names.iter().any(|n| n == provider),
        }
    }
}

/// The longest busy-polling window: beyond it a worker would spin through waits
/// that sleeping serves as well.
const MAX_BUSY_POLL: Duration = Duration::from_millis(10);

/// The largest event batch: the writer holds a whole batch in memory until it is stored.
const MAX_EVENT_BATCH_ROWS: usize = 100_000;

#[derive(Clone)]
pub struct Config {
    pub environment: Environment,
    pub listen_addr: SocketAddr,
    pub data_dir: PathBuf,
    pub database_url: String,
    pub clickhouse: Option<ClickHouseSettings>,
    pub event_batch_rows: usize,
    pub event_flush: Duration,
    pub event_queue_capacity: usize,
    /// How long a worker polls for a call's next step before it sleeps (`busy_poll`).
    pub busy_poll: Duration,
    pub retention_days: u32,
    pub jwt_secret: Vec<u8>,
    pub jwt_ttl: Duration,
    pub master_key: [u8; 32],
    pub providers: HashMap<String, ProviderSettings>,
    pub operator_keys: OperatorKeys,
    pub pricing_file: Option<PathBuf>,
    pub cors_origins: Vec<String>,
    /// Proxies (CIDRs) whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    pub limits: LimitSettings,
    /// Shared limits and change notices for many processes; unset: this process's memory.
    pub redis_url: Option<String>,
    pub limits_on_redis_down: RedisDown,
    pub max_body_bytes: usize,
    /// Request bodies held in memory at once, across all calls.
    pub request_memory_bytes: usize,
    pub upstream_timeout: Duration,
    /// Longest wait for a connection to a provider.
    pub upstream_connect_timeout: Duration,
    /// Longest wait, per attempt, for a provider's response head (for a non-streamed
    /// answer, the whole generation).
    pub upstream_first_byte_timeout: Duration,
    /// Longest pause between two chunks of a streamed answer.
    pub stream_idle_timeout: Duration,
    /// Longest a streamed answer may last in all.
    pub stream_max_duration: Duration,
    pub mock_provider: bool,
    pub unpriced_models: UnpricedModels,
    /// How long in-flight calls get to finish on shutdown.
    pub shutdown_grace: Duration,
    pub upstream_max_attempts: u32,
    pub gateway_cache_ttl: Duration,
    pub frontend_dir: Option<PathBuf>,
}

impl std::fmt::Debug for Config {
    // Hand-written so that secrets never reach a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("environment", &self.environment)
            .field("listen_addr", &self.listen_addr)
            .field("data_dir", &self.data_dir)
            .field("database", &redact_url(&self.database_url))
            .field("clickhouse", &self.clickhouse.as_ref().map(|c| redact_url(&c.url)))
            .field("redis", &self.redis_url.as_deref().map(redact_url))
            .field("event_batch_rows", &self.event_batch_rows)
            .field("event_flush", &self.event_flush)
            .field("busy_poll", &self.busy_poll)
            .field("providers", &self.providers)
            .field("operator_keys", &self.operator_keys)
            .field("mock_provider", &self.mock_provider)
            .field("unpriced_models", &self.unpriced_models)
            .finish_non_exhaustive()
    }
}

/// A URL with any password replaced, for log lines.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_string(),
    }
}

impl Config {
    /// Reads the process environment (after `.env`), creating the data dir and any
    /// generated secrets in it.
    pub fn from_env() -> anyhow::Result<Self> {
        let _ = dotenvy::dotenv();
        Self::from_lookup(|key| std::env::var(key).ok().filter(|v| !v.trim().is_empty()))
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let environment = match get("TOLLGATE_ENV").as_deref().unwrap_or("development") {
            "development" | "dev" => Environment::Development,
            "production" | "prod" => Environment::Production,
            other => bail!("TOLLGATE_ENV must be development or production, not {other:?}"),
        };
        let data_dir = PathBuf::from(get("DATA_DIR").unwrap_or_else(|| "./data".into()));
        std::fs::create_dir_all(&data_dir).with_context(|| format!("cannot create DATA_DIR {}", data_dir.display()))?;
        let database_url =
            get("DATABASE_URL").unwrap_or_else(|| format!("sqlite://{}", data_dir.join("tollgate.db").display()));
        if !(database_url.starts_with("sqlite:")
            || database_url.starts_with("postgres://")
            || database_url.starts_with("postgresql://"))
        {
            bail!("DATABASE_URL must start with sqlite:// or postgres://");
        }
        if database_url.contains(":memory:") {
            // Each connection to it would open a database of its own.
            bail!("DATABASE_URL: SQLite must be a file (sqlite://PATH), not :memory:");
        }
        let clickhouse = get("CLICKHOUSE_URL").map(|url| ClickHouseSettings {
            url,
            database: get("CLICKHOUSE_DATABASE").unwrap_or_else(|| "tollgate".into()),
            user: get("CLICKHOUSE_USER"),
            password: get("CLICKHOUSE_PASSWORD"),
        });
        // ClickHouse wants few, large inserts; the SQL stores write 2,000 rows as fast
        // per row, and a batch is held in memory twice while it is written.
        let batch_rows = if clickhouse.is_some() { "10000" } else { "2000" };

        let jwt_secret = match get("JWT_SECRET") {
            Some(s) if s.len() < 32 => bail!("JWT_SECRET must be at least 32 characters"),
            Some(s) => s.into_bytes(),
            None => generated_secret(environment, &data_dir, "JWT_SECRET", "jwt_secret")?.to_vec(),
        };
        let master_key = match get("MASTER_KEY") {
            Some(s) => decode_master_key(&s)?,
            None => generated_secret(environment, &data_dir, "MASTER_KEY", "master_key")?,
        };

        let providers = PROVIDERS
            .iter()
            .map(|p| {
                let prefix = p.name.to_ascii_uppercase();
                let settings = ProviderSettings {
                    base_url: get(&format!("{prefix}_BASE_URL")).map(|u| u.trim_end_matches('/').to_string()),
                    api_keys: get(&format!("{prefix}_API_KEY"))
                        .map(|keys| {
                            keys.split(',').map(str::trim).filter(|k| !k.is_empty()).map(String::from).collect()
                        })
                        .unwrap_or_default(),
                };
                (p.name.to_string(), settings)
            })
            .collect();

        let config = Config {
            environment,
            listen_addr: parse(&get, "LISTEN_ADDR", "127.0.0.1:8080")?,
            data_dir,
            database_url,
            clickhouse,
            event_batch_rows: parse(&get, "EVENT_BATCH_ROWS", batch_rows)?,
            event_flush: Duration::from_millis(parse(&get, "EVENT_FLUSH_MS", "1000")?),
            event_queue_capacity: parse(&get, "EVENT_QUEUE_CAPACITY", "100000")?,
            busy_poll: Duration::from_micros(parse(&get, "BUSY_POLL_US", "200")?),
            retention_days: parse(&get, "RETENTION_DAYS", "400")?,
            jwt_secret,
            jwt_ttl: Duration::from_secs(3600 * parse::<u64>(&get, "JWT_TTL_HOURS", "720")?),
            master_key,
            providers,
            operator_keys: OperatorKeys::parse(&get("OPERATOR_KEYS").unwrap_or_else(|| "all".into()))?,
            pricing_file: get("PRICING_FILE").map(PathBuf::from),
            cors_origins: get("CORS_ORIGINS")
                .map(|o| {
                    o.split(',').map(|s| s.trim().trim_end_matches('/').to_string()).filter(|s| !s.is_empty()).collect()
                })
                .unwrap_or_default(),
            trusted_proxies: parse_cidrs(&get("TRUSTED_PROXIES").unwrap_or_default())
                .map_err(|e| anyhow::anyhow!("TRUSTED_PROXIES: {e}"))?,
            redis_url: get("REDIS_URL"),
            limits_on_redis_down: match get("LIMITS_ON_REDIS_DOWN").as_deref().unwrap_or("open") {
                "open" => RedisDown::Open,
                "closed" => RedisDown::Closed,
                other => bail!("LIMITS_ON_REDIS_DOWN must be open or closed, not {other:?}"),
            },
            limits: LimitSettings {
                defaults: Limits {
                    rpm: optional(&get, "LIMIT_DEFAULT_RPM")?,
                    tpm: optional(&get, "LIMIT_DEFAULT_TPM")?,
                    monthly_budget_nanousd: optional_usd(&get, "LIMIT_DEFAULT_MONTHLY_BUDGET_USD")?,
                    ..Limits::default()
                },
                ceiling: Limits {
                    rpm: optional(&get, "LIMIT_MAX_RPM")?,
                    tpm: optional(&get, "LIMIT_MAX_TPM")?,
                    monthly_budget_nanousd: optional_usd(&get, "LIMIT_MAX_MONTHLY_BUDGET_USD")?,
                    ..Limits::default()
                },
                max_gateways_per_user: optional(&get, "MAX_GATEWAYS_PER_USER")?,
                joins_per_minute: parse(&get, "JOINS_PER_MINUTE", "20")?,
            },
            max_body_bytes: parse(&get, "MAX_BODY_BYTES", "10485760")?,
            request_memory_bytes: parse::<usize>(&get, "REQUEST_MEMORY_MB", "64")?.saturating_mul(1024 * 1024),
            upstream_timeout: Duration::from_secs(parse(&get, "UPSTREAM_TIMEOUT_SECS", "600")?),
            upstream_connect_timeout: Duration::from_millis(parse(&get, "UPSTREAM_CONNECT_TIMEOUT_MS", "10000")?),
            upstream_first_byte_timeout: Duration::from_millis(parse(
                &get,
                "UPSTREAM_FIRST_BYTE_TIMEOUT_MS",
                "300000",
            )?),
            stream_idle_timeout: Duration::from_secs(parse(&get, "STREAM_IDLE_TIMEOUT_SECS", "120")?),
            stream_max_duration: Duration::from_secs(parse(&get, "STREAM_MAX_DURATION_SECS", "3600")?),
            mock_provider: match get("MOCK_PROVIDER").as_deref() {
                None => environment == Environment::Development,
                Some("on") => true,
                Some("off") => false,
                Some(other) => bail!("MOCK_PROVIDER must be on or off, not {other:?}"),
            },
            unpriced_models: match get("UNPRICED_MODELS").as_deref().unwrap_or("allow") {
                "allow" => UnpricedModels::Allow,
                "reject" => UnpricedModels::Reject,
                other => bail!("UNPRICED_MODELS must be allow or reject, not {other:?}"),
            },
            shutdown_grace: Duration::from_secs(parse(&get, "SHUTDOWN_GRACE_SECS", "30")?),
            upstream_max_attempts: parse(&get, "UPSTREAM_MAX_ATTEMPTS", "3")?,
            gateway_cache_ttl: Duration::from_secs(parse(&get, "GATEWAY_CACHE_TTL_SECS", "30")?),
            frontend_dir: get("FRONTEND_DIR").map(PathBuf::from).or_else(|| {
                let default = PathBuf::from("frontend/dist");
                default.join("index.html").exists().then_some(default)
            }),
        };
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> anyhow::Result<()> {
        if self.event_batch_rows == 0 || self.event_queue_capacity == 0 {
            bail!("EVENT_BATCH_ROWS and EVENT_QUEUE_CAPACITY must be positive");
        }
        if self.event_batch_rows > MAX_EVENT_BATCH_ROWS {
            bail!("EVENT_BATCH_ROWS must be at most {MAX_EVENT_BATCH_ROWS} (a batch is held in memory whole)");
        }
        if self.event_flush.is_zero() {
            bail!("EVENT_FLUSH_MS must be positive");
        }
        if self.busy_poll > MAX_BUSY_POLL {
            bail!("BUSY_POLL_US must be at most {} (0 turns busy polling off)", MAX_BUSY_POLL.as_micros());
        }
        if self.upstream_max_attempts == 0 {
            bail!("UPSTREAM_MAX_ATTEMPTS must be at least 1");
        }
        if self.upstream_connect_timeout.is_zero() || self.upstream_first_byte_timeout.is_zero() {
            bail!("UPSTREAM_CONNECT_TIMEOUT_MS and UPSTREAM_FIRST_BYTE_TIMEOUT_MS must be positive");
        }
        if self.retention_days == 0 {
            bail!("RETENTION_DAYS must be at least 1");
        }
        if self.max_body_bytes < 1024 {
            bail!("MAX_BODY_BYTES must be at least 1024");
        }
        if self.request_memory_bytes < 2 * self.max_body_bytes {
            bail!("REQUEST_MEMORY_MB must hold at least two bodies of MAX_BODY_BYTES (a body and its rewritten copy)");
        }
        if self.stream_idle_timeout.is_zero() || self.stream_max_duration.is_zero() {
            bail!("STREAM_IDLE_TIMEOUT_SECS and STREAM_MAX_DURATION_SECS must be positive");
        }
        let (defaults, ceiling) = (&self.limits.defaults, &self.limits.ceiling);
        for (default_name, max_name, default, max) in [
            ("LIMIT_DEFAULT_RPM", "LIMIT_MAX_RPM", defaults.rpm, ceiling.rpm),
            ("LIMIT_DEFAULT_TPM", "LIMIT_MAX_TPM", defaults.tpm, ceiling.tpm),
            (
                "LIMIT_DEFAULT_MONTHLY_BUDGET_USD",
                "LIMIT_MAX_MONTHLY_BUDGET_USD",
                defaults.monthly_budget_nanousd,
                ceiling.monthly_budget_nanousd,
            ),
        ] {
            if let (Some(default), Some(max)) = (default, max) {
                if default > max {
                    bail!("{default_name} must not be above {max_name}");
                }
            }
        }
        if self.limits.joins_per_minute == 0 {
            bail!("JOINS_PER_MINUTE must be at least 1");
        }
        for (name, settings) in &self.providers {
            if let Some(url) = &settings.base_url {
                url::Url::parse(url).with_context(|| format!("{}_BASE_URL is not a URL", name.to_uppercase()))?;
            }
        }
        Ok(())
    }

    /// A configuration for tests: everything under `data_dir`, quick flushes, fixed
    /// secrets, and `overrides` on top (as environment variables would give them).
    pub fn for_tests(data_dir: PathBuf, overrides: &[(&str, String)]) -> anyhow::Result<Self> {
        let defaults = [
            ("DATA_DIR", data_dir.display().to_string()),
            ("LISTEN_ADDR", "127.0.0.1:0".to_string()),
            ("JWT_SECRET", "test-secret-test-secret-test-secret!".to_string()),
            ("MASTER_KEY", URL_SAFE_NO_PAD.encode([7u8; 32])),
            ("EVENT_FLUSH_MS", "50".to_string()),
            ("UPSTREAM_TIMEOUT_SECS", "10".to_string()),
        ];
        // An empty value unsets a setting, as in the environment.
        Self::from_lookup(|key| {
            overrides
                .iter()
                .chain(defaults.iter())
                .find(|(k, _)| *k == key)
                .map(|(_, v)| v.clone())
                .filter(|v| !v.trim().is_empty())
        })
    }

    pub fn provider(&self, name: &str) -> ProviderSettings {
        self.providers.get(name).cloned().unwrap_or_default()
    }
}

fn parse<T: std::str::FromStr>(get: &impl Fn(&str) -> Option<String>, key: &str, default: &str) -> anyhow::Result<T>
where
    T::Err: std::fmt::Display,
{
    let raw = get(key).unwrap_or_else(|| default.to_string());
    raw.trim().parse().map_err(|e| anyhow::anyhow!("{key}={raw:?} is invalid: {e}"))
}

/// An optional positive number.
fn optional(get: &impl Fn(&str) -> Option<String>, key: &str) -> anyhow::Result<Option<u64>> {
    match get(key) {
        None => Ok(None),
        Some(raw) => match raw.trim().parse::<u64>() {
            Ok(n) if n > 0 => Ok(Some(n)),
            _ => bail!("{key}={raw:?} must be a positive whole number"),
        },
    }
}

/// An optional amount of US dollars, in nano-dollars.
fn optional_usd(get: &impl Fn(&str) -> Option<String>, key: &str) -> anyhow::Result<Option<u64>> {
    match get(key) {
        None => Ok(None),
        Some(raw) => match raw.trim().parse::<f64>() {
            Ok(usd) if usd > 0.0 && usd <= MAX_BUDGET_USD => Ok(Some(usd_to_nano(usd))),
            _ => bail!("{key}={raw:?} must be an amount of dollars above 0 and at most {MAX_BUDGET_USD}"),
        },
    }
}

/// The largest budget: a million dollars.
pub const MAX_BUDGET_USD: f64 = 1_000_000.0;

/// Dollars to nano-dollars, to the nearest.
pub fn usd_to_nano(usd: f64) -> u64 {
    (usd * 1e9).round() as u64
}

/// A comma-separated list of CIDRs (a bare address is one host).
pub fn parse_cidrs(raw: &str) -> Result<Vec<ipnet::IpNet>, String> {
    raw.split(',').map(str::trim).filter(|s| !s.is_empty()).map(parse_cidr).collect()
}

pub fn parse_cidr(raw: &str) -> Result<ipnet::IpNet, String> {
    raw.parse::<ipnet::IpNet>()
        .or_else(|_| raw.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map(|net| net.trunc())
        .map_err(|_| format!("{raw:?} is not an address or a CIDR like 10.0.0.0/8"))
}

/// A 32-byte key in either documented form: 64 hex digits (`openssl rand -hex 32`)
/// or base64url, padded or not (`openssl rand -base64 32`'s standard alphabet too).
/// Hex is tried first: 64 hex digits are also valid base64, of 48 bytes.
pub fn decode_master_key(raw: &str) -> anyhow::Result<[u8; 32]> {
    let raw = raw.trim();
    let bytes = if raw.len() == 64 && raw.bytes().all(|b| b.is_ascii_hexdigit()) {
        hex::decode(raw)?
    } else {
        let unpadded = raw.trim_end_matches('=');
        URL_SAFE_NO_PAD
            .decode(unpadded)
            .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(unpadded))
            .map_err(|_| anyhow::anyhow!("MASTER_KEY must be 32 bytes as 64 hex digits or base64url"))?
    };
    bytes.try_into().map_err(|_| {
        anyhow::anyhow!(
            "MASTER_KEY must be 32 bytes (64 hex digits or 43 base64url characters), e.g. from `openssl rand -hex 32`"
        )
    })
}

/// In development a missing secret is generated once and kept in the data dir;
/// production refuses to start without it so that restarts never invalidate sessions silently.
fn generated_secret(env: Environment, data_dir: &std::path::Path, var: &str, file: &str) -> anyhow::Result<[u8; 32]> {
    if env == Environment::Production {
        bail!("{var} must be set when TOLLGATE_ENV=production");
    }
    let path = data_dir.join(file);
    if let Ok(existing) = std::fs::read_to_string(&path) {
        return decode_master_key(&existing).with_context(|| format!("{} is corrupt", path.display()));
    }
    let mut key = [0u8; 32];
    rand::rng().fill_bytes(&mut key);
    write_private(&path, URL_SAFE_NO_PAD.encode(key).as_bytes())?;
    tracing::warn!(path = %path.display(), "{var} not set: generated one and stored it in the data dir");
    Ok(key)
}

/// Replaces a file only its owner may read, at once: written aside, then renamed
/// over it, so a crash leaves the old contents or the new, never half.
pub fn replace_private(path: &std::path::Path, contents: &[u8]) -> anyhow::Result<()> {
    let aside = path.with_extension("new");
    let _ = std::fs::remove_file(&aside);
    write_private(&aside, contents)?;
    std::fs::rename(&aside, path).with_context(|| format!("cannot replace {}", path.display()))
}

fn write_private(path: &std::path::Path, contents: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut f = options.open(path).with_context(|| format!("cannot write {}", path.display()))?;
    f.write_all(contents)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every setting this module reads is documented in `.env.example`.
    #[test]
    fn env_example_lists_every_setting() {
        let example = include_str!("../../.env.example");
        let documented = |key: &str| example.lines().any(|l| l.starts_with(&format!("{key}=")));
        let source = include_str!("config.rs");
        let read: Vec<&str> = source
            .split('"')
            .skip(1)
            .step_by(2)
            .filter(|s| s.len() > 3 && s.chars().all(|c| c.is_ascii_uppercase() || c == '_'))
            .collect();
        assert!(read.contains(&"LISTEN_ADDR") && read.contains(&"EVENT_FLUSH_MS"));
        for key in read {
            assert!(documented(key), "{key} is read but missing from .env.example");
        }
        for provider in PROVIDERS.iter().filter(|p| p.remote()) {
            assert!(documented(&format!("{}_BASE_URL", provider.name.to_uppercase())), "{} base URL", provider.name);
        }
    }

    #[test]
    fn bad_settings_are_refused_at_start_up() {
        let dir = tempfile::TempDir::new().unwrap();
        for (key, value) in [
            ("LISTEN_ADDR", "nowhere"),
            ("EVENT_BATCH_ROWS", "0"),
            ("EVENT_BATCH_ROWS", "1000000"),
            ("EVENT_FLUSH_MS", "soon"),
            ("BUSY_POLL_US", "20000"),
            ("BUSY_POLL_US", "-1"),
            ("JWT_SECRET", "short"),
            ("MASTER_KEY", "not-32-bytes"),
            ("DATABASE_URL", "mysql://x"),
            ("DATABASE_URL", "sqlite://:memory:"),
            ("OPENAI_BASE_URL", "not a url"),
            ("TOLLGATE_ENV", "staging"),
            ("MOCK_PROVIDER", "yes"),
            ("UNPRICED_MODELS", "free"),
            ("REQUEST_MEMORY_MB", "1"),
            ("OPERATOR_KEYS", "some"),
        ] {
            let result = Config::for_tests(dir.path().to_path_buf(), &[(key, value.to_string())]);
            assert!(result.is_err(), "{key}={value} must be refused");
        }
    }

    #[test]
    fn master_key_is_read_in_both_documented_forms() {
        let key: [u8; 32] = std::array::from_fn(|i| (i * 7 + 3) as u8);
        let forms = [
            hex::encode(key),
            hex::encode(key).to_uppercase(),
            URL_SAFE_NO_PAD.encode(key),
            base64::engine::general_purpose::URL_SAFE.encode(key),
            base64::engine::general_purpose::STANDARD.encode(key),
            format!("  {}\n", hex::encode(key)),
        ];
        for form in forms {
            assert_eq!(decode_master_key(&form).unwrap(), key, "{form:?}");
        }
        for wrong in ["", "abc", &hex::encode([1u8; 31]), &URL_SAFE_NO_PAD.encode([1u8; 33])] {
            let error = decode_master_key(wrong).unwrap_err().to_string();
            assert!(error.contains("32 bytes"), "{wrong:?}: {error}");
        }
        let dir = tempfile::TempDir::new().unwrap();
        let config = Config::for_tests(dir.path().to_path_buf(), &[("MASTER_KEY", hex::encode(key))]).unwrap();
        assert_eq!(config.master_key, key, "what `openssl rand -hex 32` prints starts the server");
    }

    #[test]
    fn a_private_file_is_replaced_whole_and_stays_private() {
        let dir = tempfile::TempDir::new().unwrap();
        let path = dir.path().join("master_key");
        write_private(&path, b"old").unwrap();
        replace_private(&path, b"new").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
        assert!(!dir.path().join("master_key.new").exists());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
    }

    #[test]
    fn operator_keys_name_providers_or_all_or_none() {
        assert_eq!(OperatorKeys::parse("all").unwrap(), OperatorKeys::All);
        let some = OperatorKeys::parse("openai, Anthropic").unwrap();
        assert!(some.allows("openai") && some.allows("anthropic") && !some.allows("groq"));
        assert!(!OperatorKeys::parse("none").unwrap().allows("openai"));
        assert!(OperatorKeys::parse("openai,acme").is_err());
    }

    #[test]
    fn production_needs_its_secrets_and_development_generates_them_once() {
        let dir = tempfile::TempDir::new().unwrap();
        let data_dir = dir.path().display().to_string();
        let lookup = |env: &'static str| {
            let data_dir = data_dir.clone();
            move |key: &str| match key {
                "TOLLGATE_ENV" => Some(env.to_string()),
                "DATA_DIR" => Some(data_dir.clone()),
                _ => None,
            }
        };
        assert!(Config::from_lookup(lookup("production")).is_err());
        let first = Config::from_lookup(lookup("development")).unwrap();
        let second = Config::from_lookup(lookup("development")).unwrap();
        assert_eq!(first.jwt_secret, second.jwt_secret, "generated once, then reused");
        assert_eq!(first.master_key, second.master_key);
        assert!(dir.path().join("jwt_secret").exists());
    }

    #[test]
    fn the_mock_provider_is_on_in_development_and_opt_in_in_production() {
        let dir = tempfile::TempDir::new().unwrap();
        let with = |pairs: &[(&str, &str)]| {
            let pairs: Vec<(&str, String)> = pairs.iter().map(|(k, v)| (*k, v.to_string())).collect();
            Config::for_tests(dir.path().to_path_buf(), &pairs).unwrap().mock_provider
        };
        assert!(with(&[]));
        assert!(!with(&[("TOLLGATE_ENV", "production")]));
        assert!(with(&[("TOLLGATE_ENV", "production"), ("MOCK_PROVIDER", "on")]));
        assert!(!with(&[("MOCK_PROVIDER", "off")]));
    }

    #[test]
    fn debug_output_never_shows_keys_or_passwords() {
        let dir = tempfile::TempDir::new().unwrap();
        let config = Config::for_tests(
            dir.path().to_path_buf(),
            &[
                ("OPENAI_API_KEY", "sk-very-secret-1,sk-very-secret-2".into()),
                ("CLICKHOUSE_URL", "http://ch:8123".into()),
                ("CLICKHOUSE_PASSWORD", "hunter2-clickhouse".into()),
                ("DATABASE_URL", "postgres://app:pg-password-9@db/tollgate".into()),
            ],
        )
        .unwrap();
        let shown = format!("{config:?} {:?} {:?}", config.provider("openai"), config.clickhouse);
        for secret in ["sk-very-secret", "hunter2-clickhouse", "pg-password-9", "test-secret-test-secret"] {
            assert!(!shown.contains(secret), "{secret} leaked into {shown}");
        }
        assert!(shown.contains("2 key(s)"));
    }
}
