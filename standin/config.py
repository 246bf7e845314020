"""Session configuration: validate requests the way the Realtime API does, fill defaults.

Pure functions over plain dicts, no Django. Two entry points:

- ``client_secret_request_parse(body, defaults=...)`` for ``POST /v1/realtime/client_secrets``
  (and the ``session`` part of the server-side ``/calls`` form);
- ``session_update(current, partial)`` for the ``session.update`` client event.

Both raise ``InvalidRequest`` carrying the ``message``/``param``/``code`` of OpenAI's error body.
Unknown keys are refused (``unknown_parameter``), as the real API does.
"""

from __future__ import annotations

import copy
import re
import secrets
from dataclasses import dataclass
from typing import Any

REALTIME_MODELS = (
    "gpt-realtime",
    "gpt-realtime-2025-08-28",
    "gpt-realtime-mini",
    "gpt-realtime-mini-2025-10-06",
    "gpt-realtime-mini-2025-12-15",
    "gpt-realtime-1.5",
    "gpt-realtime-2",
    "gpt-realtime-2.1",
    "gpt-realtime-2.1-mini",
    "gpt-audio-1.5",
    "gpt-audio-mini",
    "gpt-4o-realtime-preview",
    "gpt-4o-mini-realtime-preview",
)
TRANSCRIBE_MODELS = (
    "whisper-1",
    "gpt-4o-transcribe",
    "gpt-4o-mini-transcribe",
    "gpt-4o-transcribe-diarize",
    "gpt-transcribe",
    "gpt-live-transcribe",
    "gpt-realtime-whisper",
)
VOICES = ("alloy", "ash", "ballad", "coral", "echo", "sage", "shimmer", "verse", "marin", "cedar")
EAGERNESS = ("low", "medium", "high", "auto")
AUDIO_FORMATS = ("audio/pcm", "audio/pcmu", "audio/pcma")
TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")

DEFAULT_INSTRUCTIONS = (
    "You are a helpful, friendly language tutor. Keep replies short and encouraging."
)
SERVER_VAD_DEFAULTS = {
    "type": "server_vad",
    "threshold": 0.5,
    "prefix_padding_ms": 300,
    "silence_duration_ms": 500,
    "idle_timeout_ms": None,
    "create_response": True,
    "interrupt_response": True,
}
SEMANTIC_VAD_DEFAULTS = {
    "type": "semantic_vad",
    "eagerness": "auto",
    "create_response": True,
    "interrupt_response": True,
}
EXPIRES_DEFAULT_SECONDS = 600
EXPIRES_MIN_SECONDS = 10
EXPIRES_MAX_SECONDS = 7200


class InvalidRequest(Exception):
    """A request the Realtime API would refuse with ``invalid_request_error``."""

    def __init__(self, message: str, *, param: str | None = None, code: str | None = "invalid_value"):
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code

    def as_error(self) -> dict[str, Any]:
        return {
            "message": self.message,
            "type": "invalid_request_error",
            "param": self.param,
            "code": self.code,
        }


@dataclass(frozen=True)
class Defaults:
    model: str = "gpt-realtime"
    voice: str = "alloy"
    instructions: str = DEFAULT_INSTRUCTIONS


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(10)}"


# --- small checkers ---------------------------------------------------------------------------

_TYPE_NAMES = {
    dict: "an object",
    list: "an array",
    str: "a string",
    bool: "a boolean",
    int: "an integer",
    float: "a number",
    type(None): "null",
}


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    return _TYPE_NAMES.get(type(value), "an unsupported value")


def _type_error(param: str, expected: str, value: Any) -> InvalidRequest:
    return InvalidRequest(
        f"Invalid type for '{param}': expected {expected}, but got {_kind(value)} instead.",
        param=param,
        code="invalid_type",
    )


def _object(value: Any, param: str, allowed: set[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _type_error(param, "an object", value)
    for key in value:
        if key not in allowed:
            raise InvalidRequest(
                f"Unknown parameter: '{param}.{key}'.", param=f"{param}.{key}", code="unknown_parameter"
            )
    return value


def _string(value: Any, param: str) -> str:
    if not isinstance(value, str):
        raise _type_error(param, "a string", value)
    return value


def _boolean(value: Any, param: str) -> bool:
    if not isinstance(value, bool):
        raise _type_error(param, "a boolean", value)
    return value


def _choice(value: Any, param: str, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        supported = ", ".join(f"'{c}'" for c in choices)
        raise InvalidRequest(
            f"Invalid value: {value!r}. Supported values are: {supported}.", param=param
        )
    return value


def _integer(value: Any, param: str, minimum: int | None = None, maximum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise _type_error(param, "an integer", value)
    if minimum is not None and value < minimum:
        raise InvalidRequest(
            f"Integer below minimum value. Expected a value >= {minimum}, but got {value} instead.",
            param=param,
            code="integer_below_min_value",
        )
    if maximum is not None and value > maximum:
        raise InvalidRequest(
            f"Integer above maximum value. Expected a value <= {maximum}, but got {value} instead.",
            param=param,
            code="integer_above_max_value",
        )
    return value


def _number(value: Any, param: str, minimum: float, maximum: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _type_error(param, "a number", value)
    if value < minimum:
        raise InvalidRequest(
            f"Decimal below minimum value. Expected a value >= {minimum}, but got {value} instead.",
            param=param,
            code="decimal_below_min_value",
        )
    if value > maximum:
        raise InvalidRequest(
            f"Decimal above maximum value. Expected a value <= {maximum}, but got {value} instead.",
            param=param,
            code="decimal_above_max_value",
        )
    return float(value)


def _required(value: dict[str, Any], key: str, param: str) -> Any:
    if key not in value:
        raise InvalidRequest(
            f"Missing required parameter: '{param}.{key}'.",
            param=f"{param}.{key}",
            code="missing_required_parameter",
        )
    return value[key]


# --- pieces of a session ----------------------------------------------------------------------


def _audio_format(value: Any, param: str) -> dict[str, Any]:
    value = _object(value, param, {"type", "rate"})
    kind = _choice(_required(value, "type", param), f"{param}.type", AUDIO_FORMATS)
    if kind == "audio/pcm":
        rate = value.get("rate", 24000)
        if rate != 24000:
            raise InvalidRequest(
                f"Invalid value: {rate!r}. Supported values are: 24000.", param=f"{param}.rate"
            )
        return {"type": kind, "rate": 24000}
    if "rate" in value:
        raise InvalidRequest(f"Unknown parameter: '{param}.rate'.", param=f"{param}.rate", code="unknown_parameter")
    return {"type": kind}


def _transcription(value: Any, param: str) -> dict[str, Any] | None:
    if value is None:
        return None
    value = _object(value, param, {"model", "language", "prompt"})
    result: dict[str, Any] = {}
    if "model" in value:
        result["model"] = _choice(value["model"], f"{param}.model", TRANSCRIBE_MODELS)
    else:
        result["model"] = "whisper-1"
    if value.get("language") is not None:
        language = _string(value["language"], f"{param}.language")
        if not re.fullmatch(r"[a-z]{2}", language):
            raise InvalidRequest(
                f"Invalid value: {language!r}. Expected an ISO-639-1 language code such as 'en'.",
                param=f"{param}.language",
            )
        result["language"] = language
    if value.get("prompt") is not None:
        result["prompt"] = _string(value["prompt"], f"{param}.prompt")
    return result


def _noise_reduction(value: Any, param: str) -> dict[str, Any] | None:
    if value is None:
        return None
    value = _object(value, param, {"type"})
    return {"type": _choice(_required(value, "type", param), f"{param}.type", ("near_field", "far_field"))}


def _turn_detection(value: Any, param: str) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _type_error(param, "an object", value)
    kind = _choice(_required(value, "type", param), f"{param}.type", ("server_vad", "semantic_vad"))
    if kind == "server_vad":
        _object(value, param, set(SERVER_VAD_DEFAULTS))
        result = dict(SERVER_VAD_DEFAULTS)
        if "threshold" in value:
            result["threshold"] = _number(value["threshold"], f"{param}.threshold", 0.0, 1.0)
        for key in ("prefix_padding_ms", "silence_duration_ms"):
            if key in value:
                result[key] = _integer(value[key], f"{param}.{key}", minimum=0, maximum=10_000)
        if value.get("idle_timeout_ms") is not None:
            result["idle_timeout_ms"] = _integer(
                value["idle_timeout_ms"], f"{param}.idle_timeout_ms", minimum=5000, maximum=30000
            )
    else:
        _object(value, param, set(SEMANTIC_VAD_DEFAULTS))
        result = dict(SEMANTIC_VAD_DEFAULTS)
        if "eagerness" in value:
            result["eagerness"] = _choice(value["eagerness"], f"{param}.eagerness", EAGERNESS)
    for key in ("create_response", "interrupt_response"):
        if key in value:
            result[key] = _boolean(value[key], f"{param}.{key}")
    return result


def _voice(value: Any, param: str) -> str | dict[str, str]:
    if isinstance(value, dict):
        _object(value, param, {"id"})
        voice_id = _string(_required(value, "id", param), f"{param}.id")
        if not voice_id.startswith("voice_"):
            raise InvalidRequest(f"Invalid value: {voice_id!r}. Custom voice ids start with 'voice_'.", param=f"{param}.id")
        return {"id": voice_id}
    return _choice(value, param, VOICES)


def _tool(value: Any, param: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _type_error(param, "an object", value)
    _choice(_required(value, "type", param), f"{param}.type", ("function",))
    _object(value, param, {"type", "name", "description", "parameters"})
    name = _string(_required(value, "name", param), f"{param}.name")
    if not TOOL_NAME.match(name):
        raise InvalidRequest(
            f"Invalid 'name': string does not match pattern. Expected a string that matches the "
            f"pattern '{TOOL_NAME.pattern}'.",
            param=f"{param}.name",
            code="invalid_value",
        )
    tool: dict[str, Any] = {"type": "function", "name": name}
    tool["description"] = _string(value.get("description", ""), f"{param}.description")
    parameters = value.get("parameters", {"type": "object", "properties": {}})
    if not isinstance(parameters, dict):
        raise _type_error(f"{param}.parameters", "an object", parameters)
    if parameters.get("type", "object") != "object":
        raise InvalidRequest(
            "Invalid schema for function parameters: schema must be a JSON Schema of 'type: \"object\"'.",
            param=f"{param}.parameters",
            code="invalid_function_parameters",
        )
    tool["parameters"] = copy.deepcopy(parameters)
    return tool


def _tools(value: Any, param: str) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise _type_error(param, "an array", value)
    tools = [_tool(item, f"{param}[{index}]") for index, item in enumerate(value)]
    names = [tool["name"] for tool in tools]
    for index, name in enumerate(names):
        if name in names[:index]:
            raise InvalidRequest(
                f"Duplicate tool name: '{name}'.", param=f"{param}[{index}].name", code="invalid_value"
            )
    return tools


def _tool_choice(value: Any, param: str) -> str | dict[str, str]:
    if isinstance(value, dict):
        _object(value, param, {"type", "name"})
        _choice(_required(value, "type", param), f"{param}.type", ("function",))
        return {"type": "function", "name": _string(_required(value, "name", param), f"{param}.name")}
    return _choice(value, param, ("auto", "none", "required"))


def _output_modalities(value: Any, param: str) -> list[str]:
    if value not in (["audio"], ["text"]):
        raise InvalidRequest(
            f"Invalid value: {value!r}. Supported values are: ['audio'] and ['text'].", param=param
        )
    return list(value)


def _max_output_tokens(value: Any, param: str) -> int | str:
    if value == "inf":
        return "inf"
    return _integer(value, param, minimum=1, maximum=4096)


def _tracing(value: Any, param: str) -> Any:
    if value is None or value == "auto":
        return value
    value = _object(value, param, {"workflow_name", "group_id", "metadata"})
    return copy.deepcopy(value)


def _truncation(value: Any, param: str) -> Any:
    if value in ("auto", "disabled"):
        return value
    if isinstance(value, dict):
        _object(value, param, {"type", "retention_ratio", "token_limits"})
        _choice(_required(value, "type", param), f"{param}.type", ("retention_ratio",))
        _number(_required(value, "retention_ratio", param), f"{param}.retention_ratio", 0.0, 1.0)
        return copy.deepcopy(value)
    raise InvalidRequest(
        f"Invalid value: {value!r}. Supported values are: 'auto', 'disabled' or a retention_ratio object.",
        param=param,
    )


SESSION_KEYS = {
    "type",
    "model",
    "instructions",
    "output_modalities",
    "audio",
    "tools",
    "tool_choice",
    "max_output_tokens",
    "tracing",
    "truncation",
    "prompt",
    "include",
    "reasoning",
    "parallel_tool_calls",
}


def _partial(value: Any, param: str = "session") -> dict[str, Any]:
    """Validate a partial session; return it normalised (nested objects complete, defaults filled)."""
    value = _object(value, param, SESSION_KEYS)
    _choice(_required(value, "type", param), f"{param}.type", ("realtime",))
    result: dict[str, Any] = {}
    if "model" in value:
        result["model"] = _choice(value["model"], f"{param}.model", REALTIME_MODELS)
    if "instructions" in value:
        result["instructions"] = _string(value["instructions"], f"{param}.instructions")
    if "output_modalities" in value:
        result["output_modalities"] = _output_modalities(value["output_modalities"], f"{param}.output_modalities")
    if "tools" in value:
        result["tools"] = _tools(value["tools"], f"{param}.tools")
    if "tool_choice" in value:
        result["tool_choice"] = _tool_choice(value["tool_choice"], f"{param}.tool_choice")
    if "max_output_tokens" in value:
        result["max_output_tokens"] = _max_output_tokens(value["max_output_tokens"], f"{param}.max_output_tokens")
    if "tracing" in value:
        result["tracing"] = _tracing(value["tracing"], f"{param}.tracing")
    if "truncation" in value:
        result["truncation"] = _truncation(value["truncation"], f"{param}.truncation")
    if "include" in value:
        include = value["include"]
        if include is not None:
            if not isinstance(include, list):
                raise _type_error(f"{param}.include", "an array", include)
            for index, entry in enumerate(include):
                _choice(entry, f"{param}.include[{index}]", ("item.input_audio_transcription.logprobs",))
        result["include"] = include
    if "prompt" in value:
        if value["prompt"] is not None and not isinstance(value["prompt"], dict):
            raise _type_error(f"{param}.prompt", "an object", value["prompt"])
        result["prompt"] = copy.deepcopy(value["prompt"])
    if "reasoning" in value:
        reasoning = _object(value["reasoning"], f"{param}.reasoning", {"effort"})
        result["reasoning"] = dict(reasoning)
    if "parallel_tool_calls" in value:
        result["parallel_tool_calls"] = _boolean(value["parallel_tool_calls"], f"{param}.parallel_tool_calls")
    if "audio" in value:
        audio = _object(value["audio"], f"{param}.audio", {"input", "output"})
        result["audio"] = {}
        if "input" in audio:
            p = f"{param}.audio.input"
            given = _object(audio["input"], p, {"format", "transcription", "noise_reduction", "turn_detection"})
            section: dict[str, Any] = {}
            if "format" in given:
                section["format"] = _audio_format(given["format"], f"{p}.format")
            if "transcription" in given:
                section["transcription"] = _transcription(given["transcription"], f"{p}.transcription")
            if "noise_reduction" in given:
                section["noise_reduction"] = _noise_reduction(given["noise_reduction"], f"{p}.noise_reduction")
            if "turn_detection" in given:
                section["turn_detection"] = _turn_detection(given["turn_detection"], f"{p}.turn_detection")
            result["audio"]["input"] = section
        if "output" in audio:
            p = f"{param}.audio.output"
            given = _object(audio["output"], p, {"format", "voice", "speed"})
            section = {}
            if "format" in given:
                section["format"] = _audio_format(given["format"], f"{p}.format")
            if "voice" in given:
                section["voice"] = _voice(given["voice"], f"{p}.voice")
            if "speed" in given:
                section["speed"] = _number(given["speed"], f"{p}.speed", 0.25, 1.5)
            result["audio"]["output"] = section
    return result


def session_default(defaults: Defaults = Defaults()) -> dict[str, Any]:
    """The effective session of a fresh call when the request sets nothing."""
    return {
        "type": "realtime",
        "object": "realtime.session",
        "id": new_id("sess"),
        "model": defaults.model,
        "output_modalities": ["audio"],
        "instructions": defaults.instructions,
        "tools": [],
        "tool_choice": "auto",
        "max_output_tokens": "inf",
        "tracing": None,
        "truncation": "auto",
        "prompt": None,
        "include": None,
        "audio": {
            "input": {
                "format": {"type": "audio/pcm", "rate": 24000},
                "transcription": None,
                "noise_reduction": None,
                "turn_detection": dict(SERVER_VAD_DEFAULTS),
            },
            "output": {
                "format": {"type": "audio/pcm", "rate": 24000},
                "voice": defaults.voice,
                "speed": 1.0,
            },
        },
    }


def _merge(session: dict[str, Any], partial: dict[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(session)
    for key, value in partial.items():
        if key == "audio":
            for direction, section in value.items():
                merged["audio"][direction].update(copy.deepcopy(section))
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def client_secret_request_parse(
    body: Any, *, defaults: Defaults = Defaults()
) -> tuple[int, dict[str, Any]]:
    """Validate a ``client_secrets`` body. Returns ``(ttl_seconds, effective_session)``."""
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.", param=None, code="invalid_type")
    for key in body:
        if key not in ("expires_after", "session"):
            raise InvalidRequest(f"Unknown parameter: '{key}'.", param=key, code="unknown_parameter")
    ttl = EXPIRES_DEFAULT_SECONDS
    if body.get("expires_after") is not None:
        expires = _object(body["expires_after"], "expires_after", {"anchor", "seconds"})
        if "anchor" in expires:
            _choice(expires["anchor"], "expires_after.anchor", ("created_at",))
        if "seconds" in expires:
            ttl = _integer(
                expires["seconds"], "expires_after.seconds", minimum=EXPIRES_MIN_SECONDS, maximum=EXPIRES_MAX_SECONDS
            )
    session = session_default(defaults)
    if body.get("session") is not None:
        session = session_create(body["session"], defaults=defaults)
    return ttl, session


def session_create(value: Any, *, defaults: Defaults = Defaults(), param: str = "session") -> dict[str, Any]:
    """A complete session from a (possibly partial) request session object."""
    if isinstance(value, dict) and value.get("type") == "transcription":
        raise InvalidRequest(
            "Transcription sessions are not supported by the Parlance stand-in; use type 'realtime'.",
            param=f"{param}.type",
        )
    return _merge(session_default(defaults), _partial(value, param))


def session_update(
    current: dict[str, Any], value: Any, *, voice_locked: bool = False
) -> dict[str, Any]:
    """Apply a ``session.update`` partial to the current session; return the new session.

    ``model`` cannot change during a call, and ``voice`` cannot change once the assistant has
    produced audio (``voice_locked``).
    """
    partial = _partial(value, "session")
    if "model" in partial and partial["model"] != current["model"]:
        raise InvalidRequest(
            f"Cannot update a session's model: this session uses '{current['model']}'.",
            param="session.model",
            code="invalid_value",
        )
    voice = partial.get("audio", {}).get("output", {}).get("voice")
    if voice_locked and voice is not None and voice != current["audio"]["output"]["voice"]:
        raise InvalidRequest(
            "Cannot update a conversation's voice if assistant audio is present.",
            param="session.audio.output.voice",
            code="cannot_update_voice",
        )
    if current.get("tracing") is not None and "tracing" in partial and partial["tracing"] != current["tracing"]:
        raise InvalidRequest(
            "Tracing cannot be modified once it has been set.", param="session.tracing", code="invalid_value"
        )
    return _merge(current, partial)


def response_overrides(value: Any) -> dict[str, Any]:
    """Validate the optional ``response`` object of ``response.create``."""
    if value is None:
        return {}
    param = "response"
    value = _object(
        value,
        param,
        {
            "instructions",
            "tools",
            "tool_choice",
            "output_modalities",
            "max_output_tokens",
            "metadata",
            "conversation",
            "input",
            "audio",
            "prompt",
        },
    )
    result: dict[str, Any] = {}
    if "instructions" in value:
        result["instructions"] = _string(value["instructions"], f"{param}.instructions")
    if "tools" in value:
        result["tools"] = _tools(value["tools"], f"{param}.tools")
    if "tool_choice" in value:
        result["tool_choice"] = _tool_choice(value["tool_choice"], f"{param}.tool_choice")
    if "output_modalities" in value:
        result["output_modalities"] = _output_modalities(value["output_modalities"], f"{param}.output_modalities")
    if "max_output_tokens" in value:
        result["max_output_tokens"] = _max_output_tokens(value["max_output_tokens"], f"{param}.max_output_tokens")
    if "metadata" in value:
        metadata = value["metadata"]
        if metadata is not None:
            if not isinstance(metadata, dict) or len(metadata) > 16:
                raise InvalidRequest("metadata must be an object with at most 16 keys.", param=f"{param}.metadata")
        result["metadata"] = metadata
    if "conversation" in value:
        result["conversation"] = _choice(value["conversation"], f"{param}.conversation", ("auto", "none"))
    if "input" in value:
        if not isinstance(value["input"], list):
            raise _type_error(f"{param}.input", "an array", value["input"])
        result["input"] = copy.deepcopy(value["input"])
    if "audio" in value:
        audio = _object(value["audio"], f"{param}.audio", {"output"})
        output = _object(audio.get("output", {}), f"{param}.audio.output", {"format", "voice"})
        result["audio"] = {"output": {}}
        if "format" in output:
            result["audio"]["output"]["format"] = _audio_format(output["format"], f"{param}.audio.output.format")
        if "voice" in output:
            result["audio"]["output"]["voice"] = _voice(output["voice"], f"{param}.audio.output.voice")
    return result
