"""The page's static/js/protocol.js mirrors voice/protocol.py: same message types, same close
codes, same final codes. Read from the script's source, so a change on one side only fails."""

from __future__ import annotations

import re
from pathlib import Path

from voice import protocol

SCRIPT = (Path(__file__).resolve().parents[2] / "static" / "js" / "protocol.js").read_text()


def _object(name: str) -> dict[str, str]:
    """The ``KEY: value`` entries of ``export const NAME = Object.freeze({...})``."""
    body = re.search(rf"export const {name} = Object\.freeze\(\{{(.*?)\}}\);", SCRIPT, re.S)
    assert body, f"{name} not found in protocol.js"
    return dict(re.findall(r"^\s*([A-Z_]+):\s*\"?([\w]+)\"?,", body.group(1), re.M))


def test_the_page_sends_exactly_the_types_the_server_parses():
    assert set(_object("SEND").values()) == set(protocol.PARSERS)


def test_the_page_knows_every_reply_the_server_sends():
    replies = {
        protocol.ACK, protocol.CALL_ACK, protocol.TOOL_RESULT, protocol.ENDED, protocol.USAGE_ACK,
        protocol.GUARDRAIL, protocol.MOVED, protocol.TIME_UP, protocol.ERROR,
    }
    assert set(_object("RECEIVE").values()) == replies


def test_close_codes_and_final_codes_are_the_same_on_both_sides():
    close = {name: int(value) for name, value in _object("CLOSE").items()}
    server = {
        protocol.CLOSE_UNAUTHENTICATED, protocol.CLOSE_NOT_FOUND,
        protocol.CLOSE_SESSION_CLOSED, protocol.CLOSE_TRY_AGAIN_LATER,
    }
    assert set(close.values()) - {1000} == server
    final = re.search(r"export const FINAL_CLOSE_CODES = new Set\(\[(.*?)\]\)", SCRIPT).group(1)
    assert {close[name.strip().removeprefix("CLOSE.")] for name in final.split(",")} == set(
        protocol.FINAL_CLOSE_CODES
    )


def test_the_page_drops_an_item_on_exactly_the_errors_that_are_final_for_it():
    listed = re.search(r"export const ITEM_REFUSED = new Set\(\[(.*?)\]\)", SCRIPT).group(1)
    assert {code.strip().strip('"') for code in listed.split(",")} == set(protocol.ITEM_FINAL_ERRORS)
