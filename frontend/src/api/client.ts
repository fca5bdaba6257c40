// The one typed client of the Tollgate API. Control-plane calls carry the
// user's JWT; data-plane calls (models, chat) carry a gateway secret instead.

import type {
  Analytics,
  AnalyticsQuery,
  AuthSession,
  ChatCompletionRequest,
  CreatedGateway,
  ExportFormat,
  Fallbacks,
  Gateway,
  GatewayList,
  LimitsPatch,
  LogFilters,
  LogPage,
  LogQuery,
  LoginRequest,
  Me,
  ModelList,
  NewProviderKey,
  PasswordChanged,
  ProviderKey,
  ProviderKeyList,
  RotatedSecret,
  SetPasswordRequest,
} from './types'

/** What an error answer says beyond its code and message. */
export interface ApiErrorDetails {
  /** The data plane's error `type`, such as `requests` or `invalid_request_error`. */
  type?: string | null
  /** The data plane's error `param`: on a 429 of the gateway's own limits, the limit that was hit. */
  param?: string | null
  /** The answer's headers (a 429 carries the rate-limit state in them). */
  headers?: Headers | null
}

/** An HTTP error from either plane, with the backend's machine-readable code. */
export class ApiError extends Error {
  readonly status: number
  readonly code: string
  readonly requestId: string | null
  /**
   * Seconds to wait before trying again, from a Retry-After header (429, 503);
   * null without one, or when a cross-origin answer does not expose it.
   */
  readonly retryAfterSeconds: number | null
  /** When that wait ends (epoch ms), fixed when the answer arrived. */
  readonly retryAt: number | null
  readonly type: string | null
  readonly param: string | null
  /** Null for errors that did not come from an HTTP answer. */
  readonly headers: Headers | null

  constructor(
    status: number,
    code: string,
    message: string,
    requestId: string | null = null,
    retryAfterSeconds: number | null = null,
    { type = null, param = null, headers = null }: ApiErrorDetails = {},
  ) {
    super(message)
    this.name = 'ApiError'
    this.status = status
    this.code = code
    this.requestId = requestId
    this.retryAfterSeconds = retryAfterSeconds
    this.retryAt = retryAfterSeconds === null ? null : Date.now() + retryAfterSeconds * 1000
    this.type = type
    this.param = param
    this.headers = headers
  }
}

/**
 * Seconds a Retry-After header asks to wait: either delta-seconds ("120") or
 * an HTTP date. Null when absent or unreadable; never negative.
 */
export function parseRetryAfter(header: string | null, now: number = Date.now()): number | null {
  const value = header?.trim()
  if (!value) return null
  if (/^\d+$/.test(value)) return Number(value)
  // An HTTP date names its month ("Wed, 21 Oct 2015 07:28:00 GMT").
  if (!/[a-z]{3}/i.test(value)) return null
  const at = Date.parse(value)
  if (!Number.isFinite(at)) return null
  return Math.max(0, Math.ceil((at - now) / 1000))
}

export interface ApiClientOptions {
  /** Origin (and optional path prefix) of the backend; '' means same origin. */
  baseUrl: string
  /** The signed-in user's JWT, read at call time. */
  getToken: () => string | null
  /**
   * Called with the rejected token when the control plane answers 401 to a
   * call that carried one. The session may have moved on to another token
   * meanwhile (a password change), so compare before ending it.
   */
  onUnauthorized?: (rejectedToken: string) => void
  fetch?: typeof fetch
}

type QueryValue = string | number | boolean | null | undefined

/** `?a=1&b=x` from the defined, non-empty values; '' when there are none. */
export function toQueryString(params: Record<string, QueryValue>): string {
  const search = new URLSearchParams()
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined || value === null || value === '') continue
    search.set(key, String(value))
  }
  const text = search.toString()
  return text ? `?${text}` : ''
}

export function normalizeBaseUrl(baseUrl: string): string {
  return baseUrl.trim().replace(/\/+$/, '')
}

/** URL of the logs export for a gateway, with the same filters as the table. */
export function buildExportUrl(
  baseUrl: string,
  gatewayId: string,
  format: ExportFormat,
  filters: LogFilters = {},
): string {
  const query = toQueryString({
    format,
    status: filters.status,
    model: filters.model,
    from: filters.from,
    to: filters.to,
  })
  return `${normalizeBaseUrl(baseUrl)}/gateways/${encodeURIComponent(gatewayId)}/logs/export${query}`
}

/**
 * The file name in a Content-Disposition header; RFC 5987 `filename*` wins
 * over the plain `filename` when both are present.
 */
export function filenameFromContentDisposition(header: string | null): string | null {
  if (!header) return null
  const extended = /filename\*\s*=\s*([^']*)'[^']*'([^;]+)/i.exec(header)
  if (extended) {
    try {
      return decodeURIComponent(extended[2].trim().replace(/^"|"$/g, ''))
    } catch {
      // Malformed percent-encoding: fall back to the plain parameter.
    }
  }
  const quoted = /filename\s*=\s*"((?:[^"\\]|\\.)*)"/i.exec(header)
  if (quoted) return quoted[1].replace(/\\(.)/g, '$1')
  const bare = /filename\s*=\s*([^;]+)/i.exec(header)
  return bare ? bare[1].trim() : null
}

/** Reads either plane's error body into an ApiError; tolerates non-JSON bodies. */
async function errorFromResponse(response: Response): Promise<ApiError> {
  const requestId = response.headers.get('x-request-id')
  const retryAfter = parseRetryAfter(response.headers.get('retry-after'))
  let code = `http_${response.status}`
  let message = response.statusText || `Request failed with status ${response.status}`
  let type: string | null = null
  let param: string | null = null
  try {
    const text = await response.text()
    if (text) {
      try {
        const body = JSON.parse(text) as {
          error?: { code?: unknown; type?: unknown; message?: unknown; param?: unknown }
        }
        const error = body?.error
        if (error && typeof error === 'object') {
          if (typeof error.type === 'string' && error.type) type = error.type
          if (typeof error.param === 'string' && error.param) param = error.param
          if (typeof error.code === 'string' && error.code) code = error.code
          else if (type) code = type
          if (typeof error.message === 'string' && error.message) message = error.message
        }
      } catch {
        message = text.slice(0, 300)
      }
    }
  } catch {
    // The body could not be read; the status line is all we have.
  }
  return new ApiError(response.status, code, message, requestId, retryAfter, { type, param, headers: response.headers })
}

export function createApiClient(options: ApiClientOptions) {
  const baseUrl = normalizeBaseUrl(options.baseUrl)
  const doFetch: typeof fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init))

  interface ControlOptions {
    /** Send the user's JWT (default true). */
    auth?: boolean
    /** Report a 401 to onUnauthorized (default true). */
    reportUnauthorized?: boolean
  }

  /** A control-plane call; resolves to the parsed JSON (undefined on 204). */
  async function control<T>(method: string, path: string, body?: unknown, options: ControlOptions = {}): Promise<T> {
    const response = await controlRaw(method, path, body, options)
    if (response.status === 204) return undefined as T
    return (await response.json()) as T
  }

  async function controlRaw(
    method: string,
    path: string,
    body?: unknown,
    { auth = true, reportUnauthorized = true }: ControlOptions = {},
  ): Promise<Response> {
    const headers: Record<string, string> = { Accept: 'application/json' }
    const token = auth ? options.getToken() : null
    if (token) headers.Authorization = `Bearer ${token}`
    if (body !== undefined) headers['Content-Type'] = 'application/json'
    const response = await doFetch(`${baseUrl}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    if (!response.ok) {
      const error = await errorFromResponse(response)
      if (response.status === 401 && token && reportUnauthorized) options.onUnauthorized?.(token)
      throw error
    }
    return response
  }

  async function data(secret: string, path: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers)
    headers.set('Authorization', `Bearer ${secret}`)
    if (init.body !== undefined) headers.set('Content-Type', 'application/json')
    const response = await doFetch(`${baseUrl}${path}`, { ...init, headers })
    if (!response.ok) throw await errorFromResponse(response)
    return response
  }

  const gatewayPath = (id: string) => `/gateways/${encodeURIComponent(id)}`

  return {
    baseUrl,
    /** The OpenAI-compatible base URL clients should point at. */
    openAiBaseUrl(origin: string): string {
      return `${baseUrl || normalizeBaseUrl(origin)}/v1`
    },

    // ---- auth ----
    join: () => control<AuthSession>('POST', '/auth/join', undefined, { auth: false }),
    login: (credentials: LoginRequest) =>
      control<AuthSession>('POST', '/auth/login', credentials, { auth: false }),
    me: () => control<Me>('GET', '/auth/me'),
    /**
     * Sets or changes the password. Ends the account's other sessions and
     * answers a fresh session: store its token to stay signed in.
     */
    setPassword: (request: SetPasswordRequest) => control<PasswordChanged>('PUT', '/auth/password', request),
    /**
     * Ends the current session on the server (204). A 401 means it had ended
     * already, so it is not reported as an expiry: the caller is signing out.
     */
    logout: () => control<void>('POST', '/auth/logout', undefined, { reportUnauthorized: false }),

    // ---- gateways ----
    listGateways: async () => (await control<GatewayList>('GET', '/gateways')).gateways,
    getGateway: (id: string) => control<Gateway>('GET', gatewayPath(id)),
    createGateway: (name: string) => control<CreatedGateway>('POST', '/gateways', { name }),
    renameGateway: (id: string, name: string) => control<Gateway>('PATCH', gatewayPath(id), { name }),
    /** Replaces the gateway's fallback chains; `{}` clears them. */
    setFallbacks: (id: string, fallbacks: Fallbacks) => control<Gateway>('PATCH', gatewayPath(id), { fallbacks }),
    /** Changes the limits named in `limits` (null removes one); the others stay. */
    setLimits: (id: string, limits: LimitsPatch) => control<Gateway>('PATCH', gatewayPath(id), { limits }),
    deleteGateway: (id: string) => control<void>('DELETE', gatewayPath(id)),
    rotateSecret: (id: string) => control<RotatedSecret>('POST', `${gatewayPath(id)}/secret`),

    // ---- provider keys ----
    listProviderKeys: (id: string) => control<ProviderKeyList>('GET', `${gatewayPath(id)}/provider-keys`),
    addProviderKey: (id: string, key: NewProviderKey) =>
      control<ProviderKey>('POST', `${gatewayPath(id)}/provider-keys`, key),
    deleteProviderKey: (id: string, keyId: string) =>
      control<void>('DELETE', `${gatewayPath(id)}/provider-keys/${encodeURIComponent(keyId)}`),

    // ---- analytics & logs ----
    analytics: (id: string, query: AnalyticsQuery) =>
      control<Analytics>('GET', `${gatewayPath(id)}/analytics${toQueryString({ ...query })}`),
    logs: (id: string, query: LogQuery) =>
      control<LogPage>('GET', `${gatewayPath(id)}/logs${toQueryString({ ...query })}`),
    exportUrl: (id: string, format: ExportFormat, filters: LogFilters) =>
      buildExportUrl(baseUrl, id, format, filters),
    /** Downloads the export with the JWT (a plain link could not send it). */
    async exportLogs(id: string, format: ExportFormat, filters: LogFilters) {
      const path = buildExportUrl('', id, format, filters)
      const response = await controlRaw('GET', path)
      const blob = await response.blob()
      const filename =
        filenameFromContentDisposition(response.headers.get('content-disposition')) ??
        `tollgate-logs.${format === 'csv' ? 'csv' : 'ndjson'}`
      return { blob, filename }
    },

    // ---- data plane ----
    listModels: async (secret: string) =>
      (await (await data(secret, '/v1/models', { headers: { Accept: 'application/json' } })).json()) as ModelList,
    /** Sends a chat completion; the caller reads the JSON or the SSE stream. */
    chatCompletion: (secret: string, request: ChatCompletionRequest, signal?: AbortSignal) =>
      data(secret, '/v1/chat/completions', {
        method: 'POST',
        body: JSON.stringify(request),
        headers: { Accept: request.stream ? 'text/event-stream' : 'application/json' },
        signal,
      }),
  }
}

export type ApiClient = ReturnType<typeof createApiClient>
