import { describe, expect, it } from 'vitest'
import { readOpenAiStream, readSseEvents, SseParser } from './sse'

function streamOf(chunks: (string | Uint8Array)[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder()
  return new ReadableStream({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(typeof chunk === 'string' ? encoder.encode(chunk) : chunk)
      controller.close()
    },
  })
}

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const item of iterable) out.push(item)
  return out
}

describe('SseParser', () => {
  it('parses events split at any point between chunks', () => {
    const text = 'data: {"a":1}\n\ndata: {"b":2}\n\ndata: [DONE]\n\n'
    for (let cut = 1; cut < text.length; cut++) {
      const parser = new SseParser()
      const events = [...parser.push(text.slice(0, cut)), ...parser.push(text.slice(cut)), ...parser.flush()]
      expect(events.map((e) => e.data)).toEqual(['{"a":1}', '{"b":2}', '[DONE]'])
    }
  })

  it('handles CRLF, CR, comments, event names, ids and multi-line data', () => {
    const parser = new SseParser()
    const events = parser.push(': keep-alive\r\nevent: delta\r\nid: 7\r\ndata: line one\r\ndata:line two\r\n\r\ndata: x\r\r')
    expect(events).toEqual([
      { event: 'delta', data: 'line one\nline two', id: '7' },
      { event: 'message', data: 'x', id: '7' },
    ])
  })

  it('does not count a CRLF split between chunks as two line ends', () => {
    const parser = new SseParser()
    const events = [...parser.push('data: a\r'), ...parser.push('\ndata: b\r\n'), ...parser.push('\r\n')]
    expect(events).toEqual([{ event: 'message', data: 'a\nb', id: null }])
  })

  it('dispatches an unterminated last event on flush', () => {
    const parser = new SseParser()
    expect(parser.push('data: tail')).toEqual([])
    expect(parser.flush()).toEqual([{ event: 'message', data: 'tail', id: null }])
  })
})

describe('readSseEvents', () => {
  it('decodes multi-byte characters split across chunks', async () => {
    const bytes = new TextEncoder().encode('data: héllo 👋\n\n')
    const chunks = Array.from(bytes, (b) => new Uint8Array([b]))
    const events = await collect(readSseEvents(streamOf(chunks)))
    expect(events.map((e) => e.data)).toEqual(['héllo 👋'])
  })
})

describe('readOpenAiStream', () => {
  it('yields JSON chunks and stops at [DONE]', async () => {
    const stream = streamOf([
      'data: {"choices":[{"index":0,"delta":{"content":"Hel"}}]}\n\n',
      'data: {"choices":[{"index":0,"delta":{"content":"lo"}}]}\n\ndata: {"choices":[],"usage":{"prompt_tokens":3}}\n\n',
      'data: [DONE]\n\n',
      'data: {"ignored":true}\n\n',
    ])
    const chunks = await collect(readOpenAiStream<Record<string, unknown>>(stream))
    expect(chunks).toHaveLength(3)
    expect(chunks[2]).toEqual({ choices: [], usage: { prompt_tokens: 3 } })
  })

  it('throws the error an upstream sends mid-stream', async () => {
    const stream = streamOf(['data: {"error":{"message":"upstream timed out"}}\n\n'])
    await expect(collect(readOpenAiStream(stream))).rejects.toThrow('upstream timed out')
  })
})
