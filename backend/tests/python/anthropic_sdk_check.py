"""Calls a Tollgate gateway with the official Anthropic Python SDK, given only
base_url and api_key, for a Claude model and for models of other providers,
streaming and not, with tool use. Prints one JSON line per call."""

import json
import os
import sys

import anthropic

client = anthropic.Anthropic(base_url=os.environ["TOLLGATE_URL"], api_key=os.environ["TOLLGATE_GATEWAY_SECRET"], max_retries=0)
messages = [{"role": "user", "content": "Hello from the Anthropic SDK"}]
tools = [{"name": "search", "description": "Search the web", "input_schema": {"type": "object", "properties": {"query": {"type": "string"}}}}]


def report(call, message, text=None):
    print(json.dumps({
        "call": call,
        "text": text if text is not None else "".join(b.text for b in message.content if b.type == "text"),
        "tools": [{"name": b.name, "input": b.input} for b in message.content if b.type == "tool_use"],
        "stop_reason": message.stop_reason,
        "input_tokens": message.usage.input_tokens,
        "output_tokens": message.usage.output_tokens,
    }))


for model in ["claude-sonnet-4-5", "mock/echo"]:
    report(f"plain {model}", client.messages.create(model=model, max_tokens=256, system="Be brief.", messages=messages))
    with client.messages.stream(model=model, max_tokens=256, messages=messages) as stream:
        text = "".join(stream.text_stream)
        report(f"stream {model}", stream.get_final_message(), text)

for model in ["claude-haiku-4-5", "gpt-4o-mini"]:
    report(f"tools {model}", client.messages.create(model=model, max_tokens=256, tools=tools, tool_choice={"type": "any"}, messages=[{"role": "user", "content": "cats"}]))
    with client.messages.stream(model=model, max_tokens=256, tools=tools, messages=[{"role": "user", "content": "dogs"}]) as stream:
        report(f"tool stream {model}", stream.get_final_message())

print(json.dumps({"call": "count", "input_tokens": client.messages.count_tokens(model="claude-sonnet-4-5", messages=messages).input_tokens}))

try:
    client.messages.create(model="no-such-model", max_tokens=10, messages=messages)
    sys.exit("expected NotFoundError")
except anthropic.NotFoundError as e:
    print(json.dumps({"call": "unknown_model", "status": e.status_code, "type": e.body["error"]["type"]}))

try:
    anthropic.Anthropic(base_url=os.environ["TOLLGATE_URL"], api_key="tg-wrong", max_retries=0).messages.create(model="mock/echo", max_tokens=10, messages=messages)
    sys.exit("expected AuthenticationError")
except anthropic.AuthenticationError as e:
    print(json.dumps({"call": "wrong_secret", "status": e.status_code}))
