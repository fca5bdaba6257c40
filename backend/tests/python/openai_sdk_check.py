"""Calls a Tollgate gateway with the official OpenAI Python SDK, given only
base_url and api_key, streaming and not. Prints one JSON line per call."""

import json
import os
import sys

from openai import OpenAI, NotFoundError, AuthenticationError

client = OpenAI(base_url=os.environ["TOLLGATE_BASE_URL"], api_key=os.environ["TOLLGATE_GATEWAY_SECRET"], max_retries=0)
messages = [{"role": "user", "content": "Hello from the OpenAI SDK"}]

completion = client.chat.completions.create(model="mock/echo", messages=messages)
print(json.dumps({
    "call": "plain",
    "content": completion.choices[0].message.content,
    "prompt_tokens": completion.usage.prompt_tokens,
    "completion_tokens": completion.usage.completion_tokens,
}))

pieces, usage = [], None
for chunk in client.chat.completions.create(model="gpt-4o", messages=messages, stream=True, stream_options={"include_usage": True}):
    if chunk.choices and chunk.choices[0].delta.content:
        pieces.append(chunk.choices[0].delta.content)
    if chunk.usage:
        usage = chunk.usage
print(json.dumps({"call": "stream", "content": "".join(pieces), "prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens}))

pieces = [c.choices[0].delta.content or "" for c in client.chat.completions.create(model="mock/echo", messages=messages, stream=True) if c.choices]
print(json.dumps({"call": "stream_without_usage", "content": "".join(pieces)}))

models = client.models.list()
print(json.dumps({"call": "models", "has_echo": any(m.id == "mock/echo" for m in models.data)}))

try:
    client.chat.completions.create(model="no-such-model", messages=messages)
    sys.exit("expected NotFoundError")
except NotFoundError as e:
    print(json.dumps({"call": "unknown_model", "status": e.status_code, "code": e.code}))

try:
    OpenAI(base_url=os.environ["TOLLGATE_BASE_URL"], api_key="tg-wrong", max_retries=0).chat.completions.create(model="mock/echo", messages=messages)
    sys.exit("expected AuthenticationError")
except AuthenticationError as e:
    print(json.dumps({"call": "wrong_secret", "status": e.status_code}))

# Claude through the OpenAI SDK: translated both ways, tools and streams included.
claude = client.chat.completions.create(model="claude-sonnet-4-5", messages=[{"role": "system", "content": "Be brief."}, *messages])
print(json.dumps({"call": "claude", "content": claude.choices[0].message.content, "finish_reason": claude.choices[0].finish_reason}))

tools = [{"type": "function", "function": {"name": "search", "parameters": {"type": "object", "properties": {"query": {"type": "string"}}}}}]
arguments, name, usage = "", None, None
for chunk in client.chat.completions.create(model="claude-haiku-4-5", messages=messages, tools=tools, stream=True, stream_options={"include_usage": True}):
    for call in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
        name = call.function.name or name
        arguments += call.function.arguments or ""
    if chunk.usage:
        usage = chunk.usage
print(json.dumps({"call": "claude_tool_stream", "name": name, "arguments": json.loads(arguments), "prompt_tokens": usage.prompt_tokens}))
