"""Shared bits of the stand-in tests."""

from __future__ import annotations

import json

SERVER_KEY = "sk-standin-test"
BASE = "/standin/v1/realtime"

RECORD_WORD_PRACTICE = {
    "type": "function",
    "name": "record_word_practice",
    "description": "Record how the learner did with one word.",
    "parameters": {
        "type": "object",
        "properties": {
            "word": {"type": "string"},
            "outcome": {"type": "string", "enum": ["correct", "incorrect", "hesitant"]},
        },
        "required": ["word", "outcome"],
    },
}
GET_WORD_DETAILS = {
    "type": "function",
    "name": "get_word_details",
    "description": "Look up a word.",
    "parameters": {"type": "object", "properties": {"word": {"type": "string"}}, "required": ["word"]},
}
INSTRUCTIONS = "You are a friendly Spanish tutor.\nFocus words: gato, perro, casa\nKeep it short."


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def mint(client, body: dict | None = None) -> dict:
    response = await client.post(
        f"{BASE}/client_secrets",
        data=json.dumps(body or {}),
        content_type="application/json",
        headers=bearer(SERVER_KEY),
    )
    assert response.status_code == 200, response.content
    return response.json()
