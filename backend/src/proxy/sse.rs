//! A provider's server-sent events, framed as they arrive: complete events are
//! read one by one (by the relay's dialect) and leave for the client in as few
//! pieces as they came in; an event cut between two reads waits for its rest.

use bytes::{Buf, Bytes, BytesMut};

use super::body::Joined;

/// The events of one stream, as its pieces come.
#[derive(Default)]
pub struct Events {
    /// The start of an event that has not all come yet.
    buffer: BytesMut,
    /// How far `buffer` is known to hold no event boundary.
    scanned: usize,
    /// What the reader gives the client instead of the event it just read.
    replacement: BytesMut,
}

impl Events {
    /// A piece from the provider: what of it goes to the client now. `read` reads
    /// each complete event: true when it passes as it came, else what it put in the
    /// replacement (if anything) goes instead.
    pub fn take_in(&mut self, piece: Bytes, read: impl FnMut(&[u8], &mut BytesMut) -> bool) -> Bytes {
        if self.buffer.is_empty() {
            // Most pieces hold whole events: read where they lie, uncopied.
            let mut piece = piece;
            let out = self.drain(&mut piece, read);
            self.buffer.extend_from_slice(&piece);
            out
        } else {
            self.buffer.extend_from_slice(&piece);
            let mut buffer = std::mem::take(&mut self.buffer);
            let out = self.drain(&mut buffer, read);
            self.buffer = buffer;
            out
        }
    }

    /// At the end of the stream: an event without its closing blank line is still
    /// an event.
    pub fn rest(&mut self, mut read: impl FnMut(&[u8], &mut BytesMut) -> bool) -> Bytes {
        let rest = self.buffer.split().freeze();
        match rest.is_empty() || read(&rest, &mut self.replacement) {
            true => rest,
            false => self.replacement.split().freeze(),
        }
    }

    /// The bytes of an event that has not all come yet.
    pub fn waiting(&self) -> usize {
        self.buffer.len()
    }

    /// Takes the complete events from the front of `from`: what goes to the client.
    /// Events that pass as they came leave together, in one piece.
    fn drain<B: Front>(&mut self, from: &mut B, mut read: impl FnMut(&[u8], &mut BytesMut) -> bool) -> Bytes {
        let mut out = Joined::default();
        // The events at the front that pass as they came.
        let mut kept = 0;
        loop {
            match event_end(&from.as_ref()[kept..], self.scanned) {
                Ok(len) => {
                    self.scanned = 0;
                    if read(&from.as_ref()[kept..kept + len], &mut self.replacement) {
                        kept += len;
                        continue;
                    }
                    out.push(from.take(kept));
                    from.skip(len);
                    out.push(self.replacement.split().freeze());
                    kept = 0;
                }
                Err(scanned) => {
                    self.scanned = scanned;
                    out.push(from.take(kept));
                    return out.into_bytes();
                }
            }
        }
    }
}

/// Where events are read from: a piece as it came, or the buffer.
trait Front: AsRef<[u8]> {
    /// The first `n` bytes, taken off.
    fn take(&mut self, n: usize) -> Bytes;
    /// The first `n` bytes, thrown away.
    fn skip(&mut self, n: usize);
}

impl Front for Bytes {
    fn take(&mut self, n: usize) -> Bytes {
        self.split_to(n)
    }

    fn skip(&mut self, n: usize) {
        self.advance(n);
    }
}

impl Front for BytesMut {
    fn take(&mut self, n: usize) -> Bytes {
        match n {
            // Splitting off nothing would still make the buffer a shared one.
            0 => Bytes::new(),
            _ => self.split_to(n).freeze(),
        }
    }

    fn skip(&mut self, n: usize) {
        self.advance(n);
    }
}

/// The end of the first complete event in `buf` (after its blank line), looking
/// from `from` on; otherwise how far the buffer holds no boundary. Each byte is
/// looked at once however the events arrive, so a stream costs linear time.
fn event_end(buf: &[u8], from: usize) -> Result<usize, usize> {
    let mut at = from;
    while let Some(i) = memchr::memchr(b'\n', &buf[at..]).map(|i| at + i) {
        match &buf[i + 1..] {
            [b'\n', ..] => return Ok(i + 2),
            [b'\r', b'\n', ..] => return Ok(i + 3),
            // Too little after this line end to tell yet.
            [] | [b'\r'] => return Err(i),
            _ => at = i + 1,
        }
    }
    Err(buf.len())
}

/// The payloads of an event's `data:` lines (found with `memchr`: a stream's
/// every byte passes here).
pub fn data_lines(event: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = event;
    std::iter::from_fn(move || {
        while !rest.is_empty() {
            let (line, after) = match memchr::memchr(b'\n', rest) {
                Some(i) => (&rest[..i], &rest[i + 1..]),
                None => (rest, &[][..]),
            };
            rest = after;
            let Some(data) = line.strip_prefix(b"data:") else { continue };
            let data = data.strip_prefix(b" ").unwrap_or(data).trim_ascii_end();
            if !data.is_empty() {
                return Some(data);
            }
        }
        None
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_end_at_a_blank_line_in_any_line_ending() {
        assert_eq!(event_end(b"data: a\n\ndata: b\n\n", 0), Ok(9));
        assert_eq!(event_end(b"data: a\r\n\r\ndata: b", 0), Ok(11));
        assert_eq!(event_end(b"data: a\r\n\ndata: b", 0), Ok(10));
        // Not yet known: the next byte decides.
        assert_eq!(event_end(b"data: a\n", 0), Err(7));
        assert_eq!(event_end(b"data: a\r\n\r", 0), Err(8));
        assert_eq!(event_end(b"data: a", 0), Err(7));
        // Resumes where it stopped.
        assert_eq!(event_end(b"data: a\n\n", 7), Ok(9));
    }

    #[test]
    fn data_lines_are_the_payloads_of_data_fields() {
        let event = b"event: x\ndata: {\"a\":1}\r\ndata:[DONE]\n: comment\ndata: \n\ndata: last";
        let lines: Vec<&[u8]> = data_lines(event).collect();
        assert_eq!(lines, [&b"{\"a\":1}"[..], b"[DONE]", b"last"]);
        assert_eq!(data_lines(b"").count(), 0);
    }

    #[test]
    fn a_long_event_arriving_in_small_pieces_is_scanned_once() {
        // Each byte is looked at about once: resuming from `scanned` never rescans.
        let mut buffer = Vec::new();
        let mut scanned = 0;
        let mut looked_at = 0;
        for _ in 0..100_000 {
            buffer.extend_from_slice(b"x\n");
            looked_at += buffer.len() - scanned;
            scanned = event_end(&buffer, scanned).unwrap_err();
        }
        assert!(looked_at < 3 * buffer.len(), "{looked_at} bytes looked at for {}", buffer.len());
        buffer.push(b'\n');
        assert_eq!(event_end(&buffer, scanned), Ok(buffer.len()));
    }

    /// A reader that drops events saying `drop`, replaces those saying `swap` with
    /// `data: swapped`, and passes the rest; it notes every event it reads.
    fn reader(seen: &mut Vec<String>) -> impl FnMut(&[u8], &mut BytesMut) -> bool + '_ {
        |event, replacement| {
            let text = String::from_utf8(event.to_vec()).unwrap();
            let keep = !text.contains("drop") && !text.contains("swap");
            if text.contains("swap") {
                replacement.extend_from_slice(b"data: swapped\n\n");
            }
            seen.push(text);
            keep
        }
    }

    #[test]
    fn whole_events_in_one_piece_leave_in_one_piece_as_they_came() {
        let mut events = Events::default();
        let piece = Bytes::from_static(b"data: 1\n\ndata: 2\n\ndata: 3\n\n");
        let mut seen = Vec::new();
        let out = events.take_in(piece.clone(), reader(&mut seen));
        assert_eq!(seen, ["data: 1\n\n", "data: 2\n\n", "data: 3\n\n"]);
        assert_eq!(out, piece);
        assert_eq!(out.as_ptr(), piece.as_ptr(), "the piece itself, not a copy");
        assert_eq!(events.waiting(), 0);
    }

    #[test]
    fn dropped_and_replaced_events_leave_the_others_in_order() {
        let mut events = Events::default();
        let mut seen = Vec::new();
        let out = events.take_in(
            Bytes::from_static(b"data: 1\n\ndata: drop\n\ndata: 2\n\ndata: swap\n\ndata: 3\n\n"),
            reader(&mut seen),
        );
        assert_eq!(seen.len(), 5);
        assert_eq!(out, &b"data: 1\n\ndata: 2\n\ndata: swapped\n\ndata: 3\n\n"[..]);
        let out = events.take_in(Bytes::from_static(b"data: drop\n\n"), reader(&mut seen));
        assert!(out.is_empty());
    }

    #[test]
    fn an_event_cut_between_pieces_waits_for_its_rest() {
        let mut events = Events::default();
        let mut seen = Vec::new();
        let pieces: [&'static [u8]; 5] =
            [b"data: 1\n\ndata: tw", b"o\n", b"\n", b"data: 3\r\n\r", b"\ndata: swap\n\ndata: 4"];
        let out: Vec<Bytes> = pieces.iter().map(|p| events.take_in(Bytes::from_static(p), reader(&mut seen))).collect();
        assert_eq!(out, [&b"data: 1\n\n"[..], b"", b"data: two\n\n", b"", b"data: 3\r\n\r\ndata: swapped\n\n"]);
        assert_eq!(events.waiting(), b"data: 4".len());
        // The stream ends: the last event had no blank line, and is still one.
        assert_eq!(events.rest(reader(&mut seen)), &b"data: 4"[..]);
        assert_eq!(seen, ["data: 1\n\n", "data: two\n\n", "data: 3\r\n\r\n", "data: swap\n\n", "data: 4"]);
        assert_eq!(events.waiting(), 0);
        assert!(events.rest(reader(&mut seen)).is_empty());
        assert_eq!(seen.len(), 5, "nothing is left to read");
    }

    #[test]
    fn a_last_event_without_its_blank_line_can_be_replaced() {
        let mut events = Events::default();
        let mut seen = Vec::new();
        assert!(events.take_in(Bytes::from_static(b"data: swap"), reader(&mut seen)).is_empty());
        assert_eq!(events.rest(reader(&mut seen)), &b"data: swapped\n\n"[..]);
    }
}
