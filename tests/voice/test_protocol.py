"""Parsing the page's socket messages."""

import datetime as dt

import pytest

from voice.protocol import (
    CallMessage,
    EndMessage,
    ItemMessage,
    MessageInvalid,
    ToolMessage,
    message_parse,
)

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 3, 1, 12, tzinfo=dt.timezone.utc)
DEEP: dict = {}
_inner = DEEP
for _ in range(40):
    _inner["a"] = {}
    _inner = _inner["a"]


def item_message(**fields):
    item = {"id": "item_1", "role": "user", "kind": "message", "text": "hola", "order": 0, **fields}
    return {"type": "item", "item": {k: v for k, v in item.items() if v is not ...}}


# --- message_parse ------------------------------------------------------------


def test_it_accepts_a_tool_output_item():
    parsed = message_parse(item_message(role="tool", kind="function_call_output", text='{"ok": true}'))
    assert (parsed.role, parsed.kind) == ("tool", "function_call_output")


def test_it_parses_each_message_type():
    assert message_parse(item_message(raw={"type": "message"})) == ItemMessage(
        item_id="item_1", role="user", kind="message", text="hola", order=0, raw={"type": "message"}
    )
    assert message_parse({"type": "call", "call_id": "rtc_9"}) == CallMessage(call_id="rtc_9")
    assert message_parse({"type": "tool", "call_id": "call_1", "name": "x", "arguments": "{}"}) == ToolMessage(
        call_id="call_1", name="x", arguments="{}"
    )
    assert message_parse({"type": "end", "reason": "hangup"}) == EndMessage(reason="hangup")
    assert message_parse({"type": "end"}) == EndMessage(reason="user")


@pytest.mark.parametrize(
    "content, item_id",
    [
        ([], None),
        ({"type": "item"}, None),
        ({"type": "item", "item": "text"}, None),
        (item_message(id=...), None),
        (item_message(id=7), None),
        (item_message(id="item 1"), None),
        (item_message(id="item_1<script>"), None),
        (item_message(id="i" * 129), None),
        (item_message(role="system"), "item_1"),
        (item_message(kind="audio"), "item_1"),
        (item_message(text=None), "item_1"),
        (item_message(text=["hola"]), "item_1"),
        (item_message(text="x" * 20_001), "item_1"),
        (item_message(text="nul \x00 byte"), "item_1"),
        (item_message(text="lone \ud800 surrogate"), "item_1"),
        (item_message(order=-1), "item_1"),
        (item_message(order=True), "item_1"),
        (item_message(order=1.5), "item_1"),
        (item_message(order="3"), "item_1"),
        (item_message(order=2**31), "item_1"),
        (item_message(raw=[1]), "item_1"),
        (item_message(raw={"x": "y" * 70_000}), "item_1"),
        (item_message(raw={"x": "\x00"}), "item_1"),
        (item_message(raw={"x": float("nan")}), "item_1"),
        (item_message(raw=DEEP), "item_1"),
        ({"type": "call"}, None),
        ({"type": "call", "call_id": "rtc/../x"}, None),
        ({"type": "tool", "name": "x", "arguments": "{}"}, None),
        ({"type": "end", "reason": 5}, None),
        ({"type": "end", "reason": "r" * 65}, None),
        ({"type": "end", "reason": "bye\nnow"}, None),
    ],
)
def test_it_refuses_a_malformed_message_with_a_clear_code(content, item_id):
    with pytest.raises(MessageInvalid) as caught:
        message_parse(content)
    assert caught.value.code == "invalid"
    assert caught.value.message
    assert caught.value.item_id == item_id


@pytest.mark.parametrize("content", [{}, {"type": "dance"}, {"type": 3}, {"type": None}])
def test_it_names_an_unknown_type(content):
    with pytest.raises(MessageInvalid) as caught:
        message_parse(content)
    assert caught.value.code == "unknown_type"


def test_it_accepts_the_largest_allowed_item():
    message = message_parse(item_message(text="x" * 20_000, id="i" * 128, order=2**31 - 1, raw={"x": "y" * 60_000}))
    assert len(message.text) == 20_000
