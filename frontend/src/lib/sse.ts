// Server-sent events parsing for fetch() response bodies (EventSource cannot
// POST or send an Authorization header). Follows the WHATWG event stream rules:
// lines end in \n, \r\n or \r; `data:` lines of one event are joined with \n;
// a blank line dispatches; lines starting with ':' are comments.

export interface SseEvent {
  event: string
  data: string
  id: string | null
}

export class SseParser {
  private buffer = ''
  private data: string[] = []
  private eventType = ''
  private lastId: string | null = null
  private sawCarriageReturn = false

  /** Feeds decoded text; returns the events completed by it. */
  push(text: string): SseEvent[] {
    let chunk = text
    // A \r\n split across two chunks: the \n belongs to the \r already seen.
    if (this.sawCarriageReturn && chunk.startsWith('\n')) chunk = chunk.slice(1)
    this.sawCarriageReturn = chunk.endsWith('\r')
    this.buffer += chunk
    const events: SseEvent[] = []
    const lines = this.buffer.split(/\r\n|\r|\n/)
    this.buffer = lines.pop() ?? ''
    for (const line of lines) {
      const event = this.line(line)
      if (event) events.push(event)
    }
    return events
  }

  /** Dispatches an event left unterminated at the end of the stream. */
  flush(): SseEvent[] {
    const events: SseEvent[] = []
    if (this.buffer) {
      const event = this.line(this.buffer)
      this.buffer = ''
      if (event) events.push(event)
    }
    const last = this.line('')
    if (last) events.push(last)
    return events
  }

  private line(line: string): SseEvent | null {
    if (line === '') {
      if (this.data.length === 0) {
        this.eventType = ''
        return null
      }
      const event = { event: this.eventType || 'message', data: this.data.join('\n'), id: this.lastId }
      this.data = []
      this.eventType = ''
      return event
    }
    if (line.startsWith(':')) return null
    const colon = line.indexOf(':')
    const field = colon === -1 ? line : line.slice(0, colon)
    let value = colon === -1 ? '' : line.slice(colon + 1)
    if (value.startsWith(' ')) value = value.slice(1)
    switch (field) {
      case 'data':
        this.data.push(value)
        break
      case 'event':
        this.eventType = value
        break
      case 'id':
        if (!value.includes('\0')) this.lastId = value
        break
      default:
        break
    }
    return null
  }
}

/** Yields the events of a byte stream as they arrive. */
export async function* readSseEvents(
  stream: ReadableStream<Uint8Array>,
  signal?: AbortSignal,
): AsyncGenerator<SseEvent> {
  const reader = stream.getReader()
  const decoder = new TextDecoder()
  const parser = new SseParser()
  try {
    for (;;) {
      if (signal?.aborted) throw signal.reason ?? new DOMException('Aborted', 'AbortError')
      const { done, value } = await reader.read()
      if (done) break
      yield* parser.push(decoder.decode(value, { stream: true }))
    }
    yield* parser.push(decoder.decode())
    yield* parser.flush()
  } finally {
    reader.releaseLock()
  }
}

/**
 * Yields the JSON payloads of an OpenAI-style stream (`data: {...}` events,
 * ending with `data: [DONE]`).
 */
export async function* readOpenAiStream<T>(
  stream: ReadableStream<Uint8Array>,
  signal?: AbortSignal,
): AsyncGenerator<T> {
  for await (const event of readSseEvents(stream, signal)) {
    const data = event.data.trim()
    if (data === '[DONE]') return
    if (!data) continue
    const payload: unknown = JSON.parse(data)
    const error = (payload as { error?: { message?: string } } | null)?.error
    if (error) throw new Error(error.message ?? 'The stream reported an error')
    yield payload as T
  }
}
