// Builds and starts the real Tollgate backend for the end-to-end tests: a
// fresh data dir, a free port, the built SPA as FRONTEND_DIR.

import { spawn, spawnSync } from 'node:child_process'
import { createWriteStream, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'

export const frontendDir = path.resolve(import.meta.dirname, '..')
export const repoRoot = path.resolve(frontendDir, '..')

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { stdio: 'inherit', ...options })
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} exited with ${result.status}`)
}

/** The SPA bundle the backend serves; rebuilt unless E2E_SKIP_FRONTEND_BUILD=1. */
export function buildFrontend() {
  const dist = path.join(frontendDir, 'dist')
  if (process.env.E2E_SKIP_FRONTEND_BUILD === '1' && existsSync(path.join(dist, 'index.html'))) return dist
  run('npx', ['vite', 'build', '--logLevel', 'warn'], { cwd: frontendDir })
  return dist
}

/** TOLLGATE_BIN, or `cargo build --bin tollgate` from the repo root. */
export function backendBinary() {
  if (process.env.TOLLGATE_BIN) return path.resolve(process.env.TOLLGATE_BIN)
  run('cargo', ['build', '--bin', 'tollgate'], { cwd: repoRoot })
  const targetDir = process.env.CARGO_TARGET_DIR ? path.resolve(repoRoot, process.env.CARGO_TARGET_DIR) : path.join(repoRoot, 'target')
  return path.join(targetDir, 'debug', 'tollgate')
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })
}

async function waitForHealth(baseUrl, child, timeoutMs) {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`tollgate exited early with code ${child.exitCode}`)
    try {
      const response = await fetch(`${baseUrl}/healthz`)
      if (response.status === 200) return
    } catch {
      // Not listening yet.
    }
    await new Promise((r) => setTimeout(r, 200))
  }
  throw new Error(`tollgate did not answer /healthz within ${timeoutMs} ms`)
}

/** Starts the backend; resolves to { baseUrl, dataDir, logFile, stop() }. */
export async function startBackend({ binary, dist }) {
  const port = await freePort()
  const dataDir = mkdtempSync(path.join(tmpdir(), 'tollgate-e2e-'))
  const logFile = path.join(dataDir, 'tollgate.log')
  const log = createWriteStream(logFile)
  const child = spawn(binary, [], {
    cwd: dataDir,
    env: {
      ...process.env,
      LISTEN_ADDR: `127.0.0.1:${port}`,
      DATA_DIR: dataDir,
      FRONTEND_DIR: dist,
      EVENT_FLUSH_MS: process.env.EVENT_FLUSH_MS ?? '100',
      RUST_LOG: process.env.RUST_LOG ?? 'warn,tollgate=info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  child.stdout.pipe(log)
  child.stderr.pipe(log)
  const baseUrl = `http://127.0.0.1:${port}`
  try {
    await waitForHealth(baseUrl, child, 60_000)
  } catch (error) {
    child.kill('SIGKILL')
    throw new Error(`${error.message}\n--- tollgate log ---\n${safeRead(logFile)}`)
  }
  return {
    baseUrl,
    dataDir,
    logFile,
    log: () => safeRead(logFile),
    /** Stops the server; the data dir is removed unless `keepData` (to read its log after a failure). */
    async stop({ keepData = false } = {}) {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve))
        child.kill('SIGTERM')
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
        await exited
        clearTimeout(timer)
      }
      log.end()
      if (!keepData) rmSync(dataDir, { recursive: true, force: true })
    },
  }
}

function safeRead(file) {
  try {
    return readFileSync(file, 'utf8')
  } catch {
    return ''
  }
}
