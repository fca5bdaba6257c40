// One schema for both backends: only types that SQLite and PostgreSQL share
// (booleans are SMALLINT 0/1, ids are UUID text, event times are epoch milliseconds).

diesel::table! {
    users (id) {
        id -> Text,
        username -> Text,
        password_hash -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    gateways (id) {
        id -> Text,
        user_id -> Text,
        name -> Text,
        secret_hash -> Text,
        secret_hint -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        fallbacks -> Text,
        limits -> Text,
        allowed_ips -> Text,
    }
}

diesel::table! {
    provider_keys (id) {
        id -> Text,
        gateway_id -> Text,
        provider -> Text,
        label -> Text,
        key_hint -> Text,
        sealed_key -> Text,
        status -> Text,
        last_used_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    sessions (id) {
        id -> Text,
        user_id -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    request_events (id) {
        id -> Text,
        request_id -> Text,
        gateway_id -> Text,
        user_id -> Text,
        ts_ms -> BigInt,
        endpoint -> Text,
        model -> Text,
        upstream_model -> Text,
        provider -> Text,
        streaming -> SmallInt,
        status_code -> Integer,
        ok -> SmallInt,
        error_type -> Nullable<Text>,
        error_message -> Nullable<Text>,
        tokens_prompt -> BigInt,
        tokens_completion -> BigInt,
        tokens_cached -> BigInt,
        cost_nanousd -> BigInt,
        latency_ms -> BigInt,
        ttft_ms -> Nullable<BigInt>,
        attempts -> Integer,
        key_hint -> Nullable<Text>,
        priced -> SmallInt,
        error_code -> Nullable<Text>,
        failed_attempts -> Nullable<Text>,
        tokens_cache_write -> BigInt,
        tokens_reasoning -> BigInt,
        usage_source -> Text,
        cost_input_nanousd -> BigInt,
        cost_cached_nanousd -> BigInt,
        cost_cache_write_nanousd -> BigInt,
        cost_output_nanousd -> BigInt,
    }
}

diesel::joinable!(gateways -> users (user_id));
diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(provider_keys -> gateways (gateway_id));
diesel::allow_tables_to_appear_in_same_query!(users, gateways, provider_keys, sessions, request_events);
