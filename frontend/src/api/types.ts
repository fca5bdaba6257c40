// Shapes of the Tollgate HTTP API, exactly as the backend serialises them.

/** Control-plane error body: `{"error": {"code", "message"}}`. */
export interface ControlPlaneErrorBody {
  error: { code: string; message: string }
}

/** Data-plane (OpenAI-compatible) error body. */
export interface OpenAiErrorBody {
  error: { message: string; type?: string | null; code?: string | null; param?: string | null }
}

// ---- auth -------------------------------------------------------------------

/** Answer of POST /auth/join and POST /auth/login. */
export interface AuthSession {
  id: string
  username: string
  token: string
  /** RFC3339 instant. */
  expires_at: string
}

export interface LoginRequest {
  username: string
  password: string
}

export interface SetPasswordRequest {
  new_password: string
  current_password?: string
}

/** Answer of GET /auth/me. */
export interface Me {
  id: string
  username: string
  created_at: string
  has_password: boolean
}

/**
 * Answer of PUT /auth/password: the account, and a fresh session. Every other
 * session of the account has ended, so the tab must switch to this token.
 */
export interface PasswordChanged extends Me {
  token: string
  /** RFC3339 instant. */
  expires_at: string
}

// ---- gateways ---------------------------------------------------------------

/**
 * Fallback chains: a requested model mapped to the models tried, in order,
 * when every key of that model fails (429, 5xx, timeout, unreachable).
 */
export type Fallbacks = Record<string, string[]>

/**
 * A gateway's caps, each null when it has none. Counts are whole numbers;
 * budgets are USD.
 */
export interface Limits {
  /** Requests per minute. */
  rpm: number | null
  /** Tokens (prompt + completion) per minute. */
  tpm: number | null
  /** Calls in flight at once. */
  max_concurrent: number | null
  daily_budget_usd: number | null
  monthly_budget_usd: number | null
}

export type LimitName = keyof Limits

/** PATCH /gateways/{id} `limits`: only the keys to change; null removes that limit. */
export type LimitsPatch = Partial<Limits>

/** What the gateway has used of its limits right now. */
export interface LimitsUsage {
  requests_this_minute: number
  tokens_this_minute: number
  concurrent: number
  spend_today_usd: number
  spend_this_month_usd: number
}

export interface Gateway {
  id: string
  name: string
  /** Short non-secret reminder of the secret, like `tg-…a1b2`. */
  secret_hint: string
  /** `{}` when none; absent from answers of backends older than fallbacks. */
  fallbacks?: Fallbacks
  // The three below come with GET and PATCH /gateways/{id}, not with the list.
  limits?: Limits
  /** The operator's maximum for each limit; null where there is none. */
  limit_ceilings?: Limits
  usage?: LimitsUsage
  created_at: string
  updated_at: string
}

/** Answer of POST /gateways: the only time the secret is returned with the gateway. */
export interface CreatedGateway extends Gateway {
  secret: string
}

export interface GatewayList {
  gateways: Gateway[]
}

/** Answer of POST /gateways/{id}/secret. */
export interface RotatedSecret {
  id: string
  secret: string
  secret_hint: string
}

// ---- provider keys ----------------------------------------------------------

/** `invalid` once the provider answered 401 or 403 to it. */
export type ProviderKeyStatus = 'active' | 'invalid'

/** A gateway's own key for a provider; the key itself is never returned. */
export interface ProviderKey {
  id: string
  /** Provider name, such as `openai`. */
  provider: string
  /** The owner's name for it; may be empty. */
  label: string
  /** Short reminder of the key, like `sk-…abcd`. */
  key_hint: string
  status: ProviderKeyStatus
  /** RFC3339 instant; null until a call used it. */
  last_used_at: string | null
  created_at: string
}

/** A provider a gateway may add a key for. */
export interface ProviderOption {
  name: string
  /** Whether the operator's keys serve this gateway's calls to it when it has none of its own. */
  operator_keys: boolean
}

/** Answer of GET /gateways/{id}/provider-keys. */
export interface ProviderKeyList {
  keys: ProviderKey[]
  providers: ProviderOption[]
}

/** Body of POST /gateways/{id}/provider-keys; `label` may be empty. */
export interface NewProviderKey {
  provider: string
  api_key: string
  label: string
}

// ---- analytics --------------------------------------------------------------

export interface AnalyticsSummary {
  total_requests: number
  tokens_in: number
  tokens_out: number
  total_tokens: number
  /** USD, of the priced calls only (see unpriced_requests). */
  total_cost: number
  total_cost_nanousd: number
  /** Calls whose model has no price: their cost is unknown, not zero, and left out of total_cost. */
  unpriced_requests: number
  avg_latency_ms: number | null
  p50_latency_ms: number | null
  p95_latency_ms: number | null
  p99_latency_ms: number | null
  min_latency_ms: number | null
  max_latency_ms: number | null
  avg_ttft_ms: number | null
  error_count: number
  /** Fraction 0..1; null when there were no requests. */
  error_rate: number | null
  /** Fraction 0..1; null when there were no requests. */
  success_rate: number | null
}

export interface ModelStats {
  requests: number
  tokens_in: number
  tokens_out: number
  total_tokens: number
  /** USD, of the priced calls only. */
  cost: number
  cost_nanousd?: number
  /** Calls of this model without a price, left out of `cost`. */
  unpriced_requests: number
  avg_latency_ms: number | null
  error_count: number
}

export interface DailyStat {
  /** YYYY-MM-DD (UTC day). */
  date: string
  requests: number
  tokens_in: number
  tokens_out: number
  /** USD, of the priced calls only. */
  cost: number
  cost_nanousd?: number
  /** Calls of that day without a price, left out of `cost`. */
  unpriced_requests: number
  errors: number
  /** Null on a day without requests. */
  success_rate: number | null
}

export interface Analytics {
  gateway_id: string
  date_range: { start_date: string; end_date: string; days: number }
  summary: AnalyticsSummary
  model_breakdown: Record<string, ModelStats>
  daily_stats: DailyStat[]
}

/**
 * Query of GET /gateways/{id}/analytics: either `days`, or `from`/`to`
 * (YYYY-MM-DD inclusive, or RFC3339 instants), plus an optional model filter.
 */
export interface AnalyticsQuery {
  days?: number
  from?: string
  to?: string
  model?: string
}

// ---- logs -------------------------------------------------------------------

/** One attempt that failed before the final one (another key, or a fallback model). */
export interface FailedAttempt {
  provider: string
  model: string
  /** A short summary, such as `429` or `timeout`. */
  error: string
}

/** Where a call's token counts came from. */
export type UsageSource = 'provider' | 'estimated' | 'none'

/** USD per part of a call's cost; they add up to `cost`. */
export interface CostBreakdown {
  input: number
  cached_input: number
  cache_write: number
  output: number
}

// Fields added with fallbacks are optional: rows logged before them lack them.
export interface LogEntry {
  id: string
  request_id: string
  /** RFC3339 UTC with milliseconds. */
  timestamp: string
  /** The model the client asked for. */
  model: string
  /** The model that finally answered (a fallback's when the asked one failed). */
  upstream_model: string | null
  /** The provider that finally answered. */
  provider: string | null
  streaming: boolean
  status_code: number
  ok: boolean
  /** The error's type, such as `invalid_request_error`. */
  error_type: string | null
  /** The error's machine code, such as `model_not_found`. */
  error_code: string | null
  error_message: string | null
  tokens_prompt: number
  tokens_completion: number
  tokens_cached: number
  tokens_cache_write?: number
  tokens_reasoning?: number
  usage_source?: UsageSource
  /** False when the model has no price: the cost is unknown (never zero). */
  priced: boolean
  /** USD; null when unpriced. */
  cost: number | null
  /** Null when unpriced. */
  cost_nanousd: number | null
  /** Null when unpriced. */
  cost_breakdown?: CostBreakdown | null
  latency_ms: number
  ttft_ms: number | null
  /** Every attempt, the final one included. */
  attempts: number
  /** The attempts that failed before the final one; empty when the first answered. */
  failed_attempts?: FailedAttempt[]
}

export interface LogPage {
  logs: LogEntry[]
  /** Pass back as `before` for the next (older) page; null on the last page. */
  next_cursor: string | null
}

export type LogStatusFilter = 'ok' | 'error'

/** Filters shared by GET /logs and GET /logs/export. */
export interface LogFilters {
  status?: LogStatusFilter
  model?: string
  from?: string
  to?: string
}

export interface LogQuery extends LogFilters {
  limit?: number
  before?: string
}

export type ExportFormat = 'csv' | 'ndjson'

// ---- data plane -------------------------------------------------------------

export interface ModelPricing {
  /** USD per million prompt tokens. */
  input_per_mtok: number
  cached_input_per_mtok: number | null
  output_per_mtok: number
}

export interface ModelInfo {
  id: string
  object: 'model'
  created: number
  owned_by: string
  pricing?: ModelPricing | null
  context_window?: number | null
  /** False when no provider key can serve it yet. */
  available?: boolean
}

export interface ModelList {
  object: 'list'
  data: ModelInfo[]
}

export type ChatRole = 'system' | 'user' | 'assistant'

export interface ChatMessage {
  role: ChatRole
  content: string
}

export interface ChatCompletionRequest {
  model: string
  messages: ChatMessage[]
  stream?: boolean
  stream_options?: { include_usage: boolean }
  temperature?: number
  max_tokens?: number
}

export interface Usage {
  prompt_tokens: number
  completion_tokens: number
  total_tokens: number
  prompt_tokens_details?: { cached_tokens?: number | null } | null
}

export interface ChatCompletion {
  id: string
  object: 'chat.completion'
  created: number
  model: string
  choices: {
    index: number
    message: { role: ChatRole; content: string | null }
    finish_reason: string | null
  }[]
  usage?: Usage | null
}

export interface ChatCompletionChunk {
  id: string
  object: 'chat.completion.chunk'
  created: number
  model: string
  choices: {
    index: number
    delta: { role?: ChatRole; content?: string | null }
    finish_reason: string | null
  }[]
  usage?: Usage | null
}
