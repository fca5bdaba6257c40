//! Reading a request body within the memory all bodies may take at once.

use std::{
    future::poll_fn,
    pin::Pin,
    sync::Arc,
    task::{Context, Waker},
    time::Duration,
};

use actix_web::{error::PayloadError, http::Version, web, HttpRequest};
use bytes::{Bytes, BytesMut};
use futures_util::Stream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::OpenAiError;

/// The memory request bodies may take at once, across all calls. A body holds
/// its share while it is read and until the provider has it (a body kept to count
/// its prompt, until the call ends: see `events::estimate`); a call that finds
/// the budget spent waits a little, then is told to come back (503), so a few
/// huge requests cannot exhaust the process for every tenant.
///
/// The first `FREE_KIB` of every body take no share: a chat request is a few
/// kilobytes, and a big body waiting in line for room (the line is fair, first
/// come first served) must not hold up the small ones behind it.
pub struct BodyMemory {
    kib: Arc<Semaphore>,
}

/// How long a call waits for body memory before it is refused.
const BODY_MEMORY_WAIT: Duration = Duration::from_secs(10);
/// What a growing body of unknown length reserves at each step.
const BODY_STEP_KIB: usize = 64;
/// What every body may take without a share of the budget.
const FREE_KIB: usize = 64;

impl BodyMemory {
    pub fn new(bytes: usize) -> Self {
        Self { kib: Arc::new(Semaphore::new(bytes.div_ceil(1024).min(Semaphore::MAX_PERMITS))) }
    }

    async fn reserve(&self, kib: usize) -> Result<OwnedSemaphorePermit, OpenAiError> {
        let kib = u32::try_from(kib).map_err(|_| OpenAiError::busy())?;
        tokio::time::timeout(BODY_MEMORY_WAIT, self.kib.clone().acquire_many_owned(kib))
            .await
            .map_err(|_| OpenAiError::busy())?
            .map_err(|_| OpenAiError::busy())
    }
}

/// The kibibytes of budget a body of `bytes` takes once (twice with room for a copy).
pub fn share(bytes: usize) -> usize {
    bytes.div_ceil(1024).saturating_sub(FREE_KIB)
}

/// Reads the body within `limit`, holding its share of the body memory: twice
/// its size, since the provider may need a rewritten copy (a reservation taken
/// in one go, so calls can never each hold half of what they need).
pub async fn read_body(
    req: &HttpRequest,
    payload: web::Payload,
    limit: usize,
    memory: &BodyMemory,
) -> Result<(Bytes, OwnedSemaphorePermit), OpenAiError> {
    let declared =
        req.headers().get("content-length").and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|len| len > limit) {
        return Err(OpenAiError::payload_too_large(limit));
    }
    let mut held = memory.reserve(2 * share(declared.unwrap_or(0))).await?;
    // A body that comes in one piece (most do) is kept as it came, uncopied; one in
    // pieces is gathered in one allocation of its declared length.
    let mut body = Joined::expecting(declared.unwrap_or(0).min(limit));
    let mut pieces = Pieces::of(req, payload);
    while let Some(chunk) = pieces.next().await {
        let chunk = chunk.map_err(|_| OpenAiError::invalid_request("Could not read the request body"))?;
        if body.len() + chunk.len() > limit {
            return Err(OpenAiError::payload_too_large(limit));
        }
        let needed = 2 * share(body.len() + chunk.len());
        if needed > held.num_permits() {
            held.merge(memory.reserve((needed - held.num_permits()).max(2 * BODY_STEP_KIB)).await?);
        }
        body.push(chunk);
    }
    // Give back what a chunked body reserved beyond its two shares.
    let fits = 2 * share(body.len());
    drop(held.split(held.num_permits().saturating_sub(fits)));
    Ok((body.into_bytes(), held))
}

/// A request body's pieces, as actix-web feeds them.
///
/// The first look at the body does not ask to be woken when nothing has come yet.
/// Over HTTP/1.x actix-http runs a handler inside its connection's task, polls it as
/// soon as it has decoded the request head (before the body that came in the same
/// read), feeds it the body only on later runs of that task, and polls it again right
/// after each: a wake-up asked for on that first look would only run the connection's
/// task once more for nothing, a third run per call where two serve (about 8 % of a
/// call's CPU at 32 connections, side by side with and without). Every later look, and any look over
/// another HTTP version (where a handler may be a task of its own), is woken by the
/// body as usual.
struct Pieces {
    payload: web::Payload,
    quiet: bool,
}

impl Pieces {
    fn of(req: &HttpRequest, payload: web::Payload) -> Self {
        Self { payload, quiet: matches!(req.version(), Version::HTTP_10 | Version::HTTP_11) }
    }

    async fn next(&mut self) -> Option<Result<Bytes, PayloadError>> {
        poll_fn(|cx| {
            if std::mem::take(&mut self.quiet) {
                return Pin::new(&mut self.payload).poll_next(&mut Context::from_waker(Waker::noop()));
            }
            Pin::new(&mut self.payload).poll_next(cx)
        })
        .await
    }
}

/// Pieces of bytes, in order, as one: a piece that comes alone is passed on as it
/// is, uncopied.
#[derive(Default)]
pub struct Joined {
    first: Option<Bytes>,
    rest: BytesMut,
    /// The bytes expected in all, if known: what pieces are gathered in.
    expected: usize,
}

impl Joined {
    /// Pieces of `bytes` in all: gathered, if they come apart, in one allocation.
    pub fn expecting(bytes: usize) -> Self {
        Self { expected: bytes, ..Self::default() }
    }

    pub fn push(&mut self, piece: Bytes) {
        if piece.is_empty() {
            return;
        }
        match self.first.take() {
            None if self.rest.is_empty() => self.first = Some(piece),
            first => {
                if self.rest.is_empty() {
                    self.rest.reserve(self.expected);
                }
                self.rest.extend_from_slice(&first.unwrap_or_default());
                self.rest.extend_from_slice(&piece);
            }
        }
    }

    pub fn len(&self) -> usize {
        self.first.as_ref().map_or(self.rest.len(), Bytes::len)
    }

    pub fn into_bytes(self) -> Bytes {
        self.first.unwrap_or_else(|| self.rest.freeze())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_are_joined_in_order_and_a_lone_piece_is_not_copied() {
        let lone = Bytes::from_static(b"whole");
        let mut joined = Joined::expecting(5);
        joined.push(lone.clone());
        assert_eq!(joined.into_bytes().as_ptr(), lone.as_ptr());

        let mut joined = Joined::expecting(11);
        for piece in ["he", "llo", "", " world"] {
            joined.push(Bytes::from(piece));
        }
        assert_eq!(joined.len(), 11);
        assert_eq!(joined.rest.capacity(), 11, "gathered in one allocation of the expected length");
        assert_eq!(joined.into_bytes(), "hello world");
    }
}
