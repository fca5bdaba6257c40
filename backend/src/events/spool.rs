//! An append-only file of events that could not be written to the store (store
//! down, or queue full). Replayed in order, chunk by chunk; the position of the
//! last replayed chunk is kept beside it, so a restart neither loses nor repeats
//! what was already delivered. A batch that was already sent to the store is kept
//! as one group (each line tagged with the batch), and replayed as exactly that
//! batch: a store that recognises a retried batch then recognises it.

use std::{
    fs::{self, File, OpenOptions},
    io::{self, BufRead, BufReader, Seek, SeekFrom, Write},
    path::{Path, PathBuf},
    sync::Mutex,
};

use serde::{Deserialize, Serialize};

use super::{Batch, RequestEvent};

/// One line of the spool: an event, tagged with its batch when it belongs to one.
#[derive(Serialize)]
struct LineOut<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    batch: Option<&'a str>,
    #[serde(flatten)]
    event: &'a RequestEvent,
}

#[derive(Deserialize)]
struct LineIn {
    #[serde(default)]
    batch: Option<String>,
    #[serde(flatten)]
    event: RequestEvent,
}

pub struct Spool {
    path: PathBuf,
    offset_path: PathBuf,
    state: Mutex<State>,
}

struct State {
    /// Byte position up to which events were delivered.
    offset: u64,
    /// Events after `offset`.
    pending: u64,
}

/// A chunk read from the spool: one batch, or untagged events; `end` is the position
/// to commit once it is delivered.
pub struct Chunk {
    pub events: Batch,
    pub end: u64,
}

impl Spool {
    pub fn open(dir: &Path) -> io::Result<Self> {
        fs::create_dir_all(dir)?;
        let path = dir.join("events.ndjson");
        let offset_path = dir.join("events.offset");
        let offset = fs::read_to_string(&offset_path).ok().and_then(|s| s.trim().parse().ok()).unwrap_or(0);
        terminate_last_line(&path)?;
        let spool = Spool { path, offset_path, state: Mutex::new(State { offset, pending: 0 }) };
        let pending = spool.count_from(offset)?;
        spool.state.lock().expect("spool lock").pending = pending;
        if pending > 0 {
            tracing::warn!(pending, "spooled events from an earlier run will be replayed");
        }
        Ok(spool)
    }

    fn count_from(&self, offset: u64) -> io::Result<u64> {
        let Ok(mut file) = File::open(&self.path) else { return Ok(0) };
        file.seek(SeekFrom::Start(offset))?;
        Ok(BufReader::new(file).lines().map_while(Result::ok).filter(|l| !l.trim().is_empty()).count() as u64)
    }

    pub fn pending(&self) -> u64 {
        self.state.lock().expect("spool lock").pending
    }

    /// Appends and syncs, so spooled events survive a crash of the process.
    pub fn append(&self, events: &[RequestEvent]) -> io::Result<()> {
        self.write(events, None)
    }

    /// Appends a batch that was sent to the store, to be replayed as exactly this batch.
    pub fn append_batch(&self, events: &[RequestEvent]) -> io::Result<()> {
        let Some(first) = events.first() else { return Ok(()) };
        self.write(events, Some(&first.id.to_string()))
    }

    fn write(&self, events: &[RequestEvent], batch: Option<&str>) -> io::Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        let mut buf = Vec::with_capacity(events.len() * 512);
        for event in events {
            serde_json::to_writer(&mut buf, &LineOut { batch, event }).map_err(io::Error::other)?;
            buf.push(b'\n');
        }
        let mut state = self.state.lock().expect("spool lock");
        let mut file = OpenOptions::new().create(true).append(true).open(&self.path)?;
        file.write_all(&buf)?;
        file.sync_data()?;
        state.pending += events.len() as u64;
        Ok(())
    }

    /// The oldest undelivered events: a whole batch, or at most `max` untagged events.
    pub fn read_chunk(&self, max: usize) -> io::Result<Option<Chunk>> {
        let state = self.state.lock().expect("spool lock");
        if state.pending == 0 {
            return Ok(None);
        }
        let mut file = File::open(&self.path)?;
        file.seek(SeekFrom::Start(state.offset))?;
        let mut reader = BufReader::new(file);
        let mut events = Vec::new();
        // The batch of the chunk's first event (`Some(None)`: untagged events).
        let mut group: Option<Option<String>> = None;
        let mut end = state.offset;
        let mut line = String::new();
        loop {
            line.clear();
            let read = reader.read_line(&mut line)?;
            if read == 0 || !line.ends_with('\n') {
                // End of file, or a line cut short by a crash mid-write: stop before it.
                break;
            }
            match serde_json::from_str::<LineIn>(line.trim()) {
                Ok(LineIn { batch, event }) => {
                    let untagged_full = batch.is_none() && events.len() >= max;
                    if group.get_or_insert_with(|| batch.clone()) != &batch || untagged_full {
                        break;
                    }
                    events.push(event);
                }
                Err(e) if !line.trim().is_empty() => tracing::error!(error = %e, "skipping unreadable spool line"),
                Err(_) => {}
            }
            end += read as u64;
        }
        Ok(Some(Chunk { events: events.into(), end }))
    }

    /// Marks everything before `end` delivered. Once all is delivered the files are removed.
    pub fn commit(&self, chunk: &Chunk) -> io::Result<()> {
        let mut state = self.state.lock().expect("spool lock");
        state.pending = state.pending.saturating_sub(chunk.events.len() as u64);
        state.offset = chunk.end;
        let file_len = fs::metadata(&self.path).map(|m| m.len()).unwrap_or(0);
        if state.offset >= file_len {
            let _ = fs::remove_file(&self.path);
            let _ = fs::remove_file(&self.offset_path);
            state.offset = 0;
            state.pending = 0;
            return Ok(());
        }
        let tmp = self.offset_path.with_extension("tmp");
        fs::write(&tmp, state.offset.to_string())?;
        fs::rename(&tmp, &self.offset_path)
    }
}

/// A crash mid-append can leave a last line without its newline; ending it keeps
/// the next append from being glued onto it (the cut line is then skipped on replay).
fn terminate_last_line(path: &Path) -> io::Result<()> {
    let Ok(mut file) = OpenOptions::new().read(true).append(true).open(path) else { return Ok(()) };
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(());
    }
    let mut last = [0u8; 1];
    file.seek(SeekFrom::Start(len - 1))?;
    io::Read::read_exact(&mut file, &mut last)?;
    if last[0] != b'\n' {
        file.write_all(b"\n")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{EventId, GatewayId, UserId};

    fn event(n: u64) -> RequestEvent {
        RequestEvent {
            id: EventId::new(),
            request_id: format!("r{n}"),
            gateway_id: GatewayId::new(),
            user_id: UserId::new(),
            ts: chrono::DateTime::from_timestamp_millis(1_700_000_000_000 + n as i64).unwrap(),
            endpoint: "/chat/completions".into(),
            model: "m".into(),
            upstream_model: "m".into(),
            provider: "mock".into(),
            streaming: false,
            status_code: 200,
            ok: true,
            error_type: None,
            error_code: None,
            error_message: None,
            tokens_prompt: n,
            tokens_completion: 1,
            tokens_cached: 0,
            cost_nanousd: n,
            priced: true,
            latency_ms: 1,
            ttft_ms: None,
            attempts: 1,
            key_hint: None,
            failed_attempts: Vec::new(),
            tokens_cache_write: 0,
            tokens_reasoning: 0,
            estimate: None,
            usage_source: Default::default(),
            cost_input_nanousd: 0,
            cost_cached_nanousd: 0,
            cost_cache_write_nanousd: 0,
            cost_output_nanousd: 0,
        }
    }

    #[test]
    fn spooled_events_come_back_in_order_once_each_across_restarts() {
        let dir = tempfile::TempDir::new().unwrap();
        let spool = Spool::open(dir.path()).unwrap();
        let events: Vec<_> = (0..5).map(event).collect();
        spool.append(&events[..3]).unwrap();
        spool.append(&events[3..]).unwrap();
        assert_eq!(spool.pending(), 5);

        let first = spool.read_chunk(2).unwrap().unwrap();
        assert_eq!(*first.events, events[..2]);
        spool.commit(&first).unwrap();
        drop(spool);

        // A restart resumes after what was delivered.
        let spool = Spool::open(dir.path()).unwrap();
        assert_eq!(spool.pending(), 3);
        let rest = spool.read_chunk(10).unwrap().unwrap();
        assert_eq!(*rest.events, events[2..]);
        spool.commit(&rest).unwrap();
        assert_eq!(spool.pending(), 0);
        assert!(spool.read_chunk(10).unwrap().is_none());
        assert!(!dir.path().join("events.ndjson").exists(), "a delivered spool is removed");
    }

    #[test]
    fn a_line_cut_short_by_a_crash_is_skipped_without_losing_later_events() {
        let dir = tempfile::TempDir::new().unwrap();
        let spool = Spool::open(dir.path()).unwrap();
        spool.append(&[event(1)]).unwrap();
        drop(spool);
        let mut file = OpenOptions::new().append(true).open(dir.path().join("events.ndjson")).unwrap();
        file.write_all(br#"{"id":"0192"#).unwrap();
        drop(file);

        let spool = Spool::open(dir.path()).unwrap();
        spool.append(&[event(2)]).unwrap();
        let chunk = spool.read_chunk(10).unwrap().unwrap();
        let tokens: Vec<u64> = chunk.events.iter().map(|e| e.tokens_prompt).collect();
        assert_eq!(tokens, [1, 2]);
    }

    #[test]
    fn a_spooled_batch_comes_back_whole_and_alone() {
        let dir = tempfile::TempDir::new().unwrap();
        let spool = Spool::open(dir.path()).unwrap();
        let events: Vec<_> = (0..9).map(event).collect();
        spool.append(&events[..2]).unwrap();
        spool.append_batch(&events[2..6]).unwrap();
        spool.append_batch(&events[6..7]).unwrap();
        spool.append(&events[7..]).unwrap();

        let mut chunks = Vec::new();
        while let Some(chunk) = spool.read_chunk(3).unwrap() {
            chunks.push(chunk.events.iter().map(|e| e.tokens_prompt).collect::<Vec<_>>());
            spool.commit(&chunk).unwrap();
        }
        assert_eq!(chunks, [vec![0, 1], vec![2, 3, 4, 5], vec![6], vec![7, 8]], "a batch is never split nor merged");
    }

    #[test]
    fn events_spooled_before_pricing_was_recorded_read_as_priced() {
        let dir = tempfile::TempDir::new().unwrap();
        let original = event(1);
        let mut line = serde_json::to_value(&original).unwrap();
        line.as_object_mut().unwrap().remove("priced");
        line.as_object_mut().unwrap().remove("error_code");
        fs::write(dir.path().join("events.ndjson"), format!("{line}\n")).unwrap();
        let spool = Spool::open(dir.path()).unwrap();
        let chunk = spool.read_chunk(10).unwrap().unwrap();
        assert_eq!(*chunk.events, [original]);
    }
}
