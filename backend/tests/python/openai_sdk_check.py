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
