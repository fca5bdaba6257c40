// A real HTTP server for the tests of one file: the web app's API client is tested
// over real connections, against a handler that plays the backend.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll } from 'vitest'

/** Answers `body` as JSON with `status`. */
export function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  res.writeHead(status, { 'Content-Type': 'application/json', ...headers })
  res.end(JSON.stringify(body))
}

/**
 * Serves `handle` on an ephemeral port of 127.0.0.1 while the file's tests run
 * (listening before the first, closed after the last). `url` is the base URL once
 * it listens.
 */
export function serveForTests(handle: (req: IncomingMessage, res: ServerResponse) => void): { readonly url: string } {
  const server = createServer(handle)
  const served = { url: '' }
  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    served.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())))
  return served
}
