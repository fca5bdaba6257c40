//! Change notices between processes: when a gateway's secret, settings or keys
//! change on one process, every other drops its cached view within a second
//! instead of at the cache's TTL. Through Redis pub/sub when `REDIS_URL` is set,
//! else PostgreSQL's LISTEN/NOTIFY; the embedded SQLite default is one process and
//! needs none. A listener that lost its connection forgets every cached gateway
//! once it is back, since it may have missed notices meanwhile.

use std::{
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::Duration,
};

use diesel::{Connection, PgConnection, RunQueryDsl};
use futures_util::StreamExt;

use super::GatewayCache;
use crate::{
    db::{Db, DbKind},
    ids::{GatewayId, ProviderKeyId},
    proxy::keys::KeyStates,
};

const CHANNEL: &str = "tollgate_changes";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Notice {
    /// Its secret, settings or keys changed, or it was deleted.
    Gateway(GatewayId),
    /// One of its stored keys was deleted.
    KeyDeleted(GatewayId, ProviderKeyId),
    /// A provider refused one of its stored keys.
    KeyRefused(GatewayId, ProviderKeyId),
}

impl Notice {
    fn encode(self) -> String {
        match self {
            Notice::Gateway(gateway) => format!("gateway {gateway}"),
            Notice::KeyDeleted(gateway, key) => format!("key-deleted {gateway} {key}"),
            Notice::KeyRefused(gateway, key) => format!("key-refused {gateway} {key}"),
        }
    }

    fn decode(text: &str) -> Option<Self> {
        let mut words = text.split(' ');
        let (kind, gateway) = (words.next()?, words.next()?.parse().ok()?);
        let key = || words.clone().next().and_then(|k| k.parse().ok());
        match kind {
            "gateway" => Some(Notice::Gateway(gateway)),
            "key-deleted" => Some(Notice::KeyDeleted(gateway, key()?)),
            "key-refused" => Some(Notice::KeyRefused(gateway, key()?)),
            _ => None,
        }
    }
}

enum Channel {
    /// One process: nothing to tell.
    None,
    Redis {
        client: redis::Client,
        publisher: redis::aio::ConnectionManager,
    },
    Postgres {
        db: Db,
        url: String,
    },
}

/// What a process keeps of gateways, which a notice makes it forget.
struct Views {
    cache: Arc<GatewayCache>,
    states: Arc<KeyStates>,
}

impl Views {
    fn apply(&self, notice: Notice) {
        match notice {
            Notice::Gateway(gateway) => self.cache.invalidate(gateway),
            Notice::KeyDeleted(gateway, key) => {
                self.states.forget(key);
                self.cache.invalidate(gateway);
            }
            Notice::KeyRefused(_, key) => self.states.mark_invalid(key),
        }
    }

    fn apply_text(&self, text: &str) {
        match Notice::decode(text) {
            Some(notice) => self.apply(notice),
            None if text == RESYNC => self.cache.clear(),
            None => tracing::warn!(notice = text, "an unknown change notice"),
        }
    }
}

/// Applies a change to this process's views at once and tells the other processes;
/// listens for what they change.
pub struct Notices {
    channel: Channel,
    views: Arc<Views>,
}

impl Notices {
    pub async fn connect(
        redis_url: Option<&str>,
        db: &Db,
        database_url: &str,
        cache: Arc<GatewayCache>,
        states: Arc<KeyStates>,
    ) -> anyhow::Result<Self> {
        let channel = match redis_url {
            Some(url) => {
                let client = redis::Client::open(url)?;
                let publisher = redis::aio::ConnectionManager::new(client.clone()).await?;
                Channel::Redis { client, publisher }
            }
            None if db.kind() == DbKind::Postgres => {
                Channel::Postgres { db: db.clone(), url: database_url.to_string() }
            }
            None => Channel::None,
        };
        Ok(Self { channel, views: Arc::new(Views { cache, states }) })
    }

    /// Forgets what the change makes stale in this process (the very next call sees
    /// it), and tells the others.
    pub fn announce(&self, notice: Notice) {
        self.views.apply(notice);
        self.publish(notice);
    }

    /// Sent in the background.
    fn publish(&self, notice: Notice) {
        let payload = notice.encode();
        match &self.channel {
            Channel::None => {}
            Channel::Redis { publisher, .. } => {
                let mut publisher = publisher.clone();
                tokio::spawn(async move {
                    let sent: Result<i64, _> =
                        redis::cmd("PUBLISH").arg(CHANNEL).arg(&payload).query_async(&mut publisher).await;
                    if let Err(error) = sent {
                        tracing::warn!(%error, "a change notice could not be sent: other processes see it at the cache TTL");
                    }
                });
            }
            Channel::Postgres { db, .. } => {
                let db = db.clone();
                tokio::spawn(async move {
                    let sent = db
                        .run(move |conn| {
                            diesel::sql_query("SELECT pg_notify($1, $2)")
                                .bind::<diesel::sql_types::Text, _>(CHANNEL)
                                .bind::<diesel::sql_types::Text, _>(payload)
                                .execute(conn)
                        })
                        .await;
                    if let Err(error) = sent {
                        tracing::warn!(%error, "a change notice could not be sent: other processes see it at the cache TTL");
                    }
                });
            }
        }
    }

    /// Applies what other processes (and this one) announce, until the task is stopped.
    pub fn listen(&self) -> Option<tokio::task::JoinHandle<()>> {
        let views = self.views.clone();
        let apply = move |text: &str| views.apply_text(text);
        match &self.channel {
            Channel::None => None,
            Channel::Redis { client, .. } => Some(tokio::spawn(listen_redis(client.clone(), apply))),
            Channel::Postgres { url, .. } => {
                // A thread of its own (libpq blocks), told to stop when this task is.
                let url = url.clone();
                Some(tokio::spawn(async move {
                    let stop = StopOnDrop(Arc::new(AtomicBool::new(false)));
                    let (done, ended) = tokio::sync::oneshot::channel::<()>();
                    let flag = stop.0.clone();
                    std::thread::spawn(move || {
                        while !flag.load(Ordering::Relaxed) {
                            if let Err(error) = listen_postgres(&url, &apply, &flag) {
                                tracing::warn!(%error, "lost the change notices from PostgreSQL: listening again");
                                std::thread::sleep(Duration::from_secs(1));
                            }
                        }
                        drop(done);
                    });
                    let _ = ended.await;
                    drop(stop);
                }))
            }
        }
    }
}

/// Not a notice: said to the listener itself after it (re)connects.
const RESYNC: &str = "resync";

async fn listen_redis(client: redis::Client, apply: impl Fn(&str) + Send + 'static) {
    loop {
        match client.get_async_pubsub().await {
            Ok(mut pubsub) => {
                if pubsub.subscribe(CHANNEL).await.is_ok() {
                    apply(RESYNC);
                    let mut messages = pubsub.on_message();
                    while let Some(message) = messages.next().await {
                        if let Ok(text) = message.get_payload::<String>() {
                            apply(&text);
                        }
                    }
                }
                tracing::warn!("lost the change notices from Redis: listening again");
            }
            Err(error) => tracing::warn!(%error, "cannot listen for change notices on Redis"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Polls the connection for notifications every 100 ms (libpq reads them off the
/// socket), and checks it now and then, so a lost server is noticed.
fn listen_postgres(url: &str, apply: &impl Fn(&str), stop: &AtomicBool) -> anyhow::Result<()> {
    let mut conn = PgConnection::establish(url)?;
    diesel::sql_query(format!("LISTEN {CHANNEL}")).execute(&mut conn)?;
    apply(RESYNC);
    let mut polls = 0u32;
    while !stop.load(Ordering::Relaxed) {
        for notification in conn.notifications_iter() {
            apply(&notification?.payload);
        }
        polls += 1;
        if polls.is_multiple_of(100) {
            diesel::sql_query("SELECT 1").execute(&mut conn)?;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

/// Raises its flag when dropped (its task stopped or aborted).
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_read_back_as_written() {
        let (gateway, key) = (GatewayId::new(), ProviderKeyId::new());
        for notice in [Notice::Gateway(gateway), Notice::KeyDeleted(gateway, key), Notice::KeyRefused(gateway, key)] {
            assert_eq!(Notice::decode(&notice.encode()), Some(notice));
        }
        assert_eq!(Notice::decode("gateway nope"), None);
        assert_eq!(Notice::decode("key-deleted"), None);
    }
}
