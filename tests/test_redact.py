"""Redaction: what is masked, what must survive, nested payloads, and whole frames."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from oneinbox_nb.redact import RECORDING_PLACEHOLDER, redact_frames, redact_text, redact_value


@pytest.mark.parametrize(
    "text, expected",
    [
        # phone numbers: fixed shape, last four digits kept
        ("+14155550123", "***-***-0123"),
        ("+1 (415) 555-0123", "***-***-0123"),
        ("+44 20 7946 0958", "***-***-0958"),
        ("(415) 555-0123", "***-***-0123"),
        ("415-555-0123", "***-***-0123"),
        ("415.555.0123", "***-***-0123"),
        ("1-415-555-0123", "***-***-0123"),
        ("4155550123", "***-***-0123"),
        ("14155550123", "***-***-0123"),
        ("it is 4 1 5 5 5 5 0 1 2 3 ok", "it is ***-***-0123 ok"),
        # e-mail addresses, written and spoken
        ("jane.doe@example.com", "j***@***.com"),
        ("mail Bob_99+tag@mail.example.co.uk now", "mail B***@***.uk now"),
        ("write to JOHN at example dot com please", "write to J***@***.com please"),
        ("a label to tomás.khan@example.com.", "a label to t***@***.com."),
        # card-like numbers, Luhn-valid or not
        ("4111 1111 1111 1111", "****-****-****-1111"),
        ("4111-1111-1111-1111", "****-****-****-1111"),
        ("4111111111111111", "****-****-****-1111"),
        ("4111111111111112", "****-****-****-1112"),
        ("3782 822463 10005", "****-****-****-0005"),
        ("5500 0000 0000 0004 123", "****-****-****-4123"),
        # API keys
        ("key oi_sk_abcdef123456", "key oi_**_***"),
    ],
)
def test_masks(text, expected):
    assert redact_text(text) == expected


def test_masks_inside_sentences_and_json():
    text = "Call me on +14155550123 or mail jane.doe@example.com about order 1001."
    assert redact_text(text) == "Call me on ***-***-0123 or mail j***@***.com about order 1001."
    payload = '{"phone": "+14155550123", "order_id": "1001", "card": "4111 1111 1111 1111"}'
    assert (
        redact_text(payload)
        == '{"phone": "***-***-0123", "order_id": "1001", "card": "****-****-****-1111"}'
    )


def test_masks_have_no_length_hint():
    assert len(redact_text("+14155550123")) == len(redact_text("+44 20 7946 0958"))
    assert len(redact_text("4111111111111")) == len(redact_text("4111111111111111111"))


@pytest.mark.parametrize(
    "text",
    [
        "order 1001",
        "orders 1001, 1002 and 1003",
        "at 10:30 tomorrow",
        "$1,234.56",
        "850.5 ms",
        "12345 ms",
        "p50 1890 ms, p95 4210.75 ms",
        "3f2b8c1e-9d4a-4e57-b1c2-7a8d9e0f1a2b",
        "550e8400-e29b-41d4-a716-446655440000",
        "12345678-1234-1234-1234-123456789012",
        "2024-11-24",
        "2024-11-24T10:30:00Z",
        "1732406400",  # epoch seconds
        "1732406400000",  # epoch milliseconds
        "v3.11.2",
        "0.41551234567890",
        "tc_4155550123",
        "items 1 2 3 4 5 6 7 8 9 10",
        "+12.5%",
        "look at this",
        "Where is order 1001? It shipped yesterday.",
        "",
    ],
)
def test_leaves_ordinary_text_alone(text):
    assert redact_text(text) == text


def test_non_strings_pass_through():
    assert redact_text(None) is None
    assert redact_text(1001) == 1001


def test_redact_value_nested_tool_payload():
    arguments = {
        "customer": {"phone": "+14155550123", "email": "jane@example.com", "name": "Jane"},
        "order_id": "1001",
        "quantity": 2,
        "amount": 1234.56,
        "confirmed": True,
        "callback": 4155550123,
        "cards": ["4111 1111 1111 1111", None],
        "pair": ("415-555-0123", 1001),
    }
    original = repr(arguments)
    assert redact_value(arguments) == {
        "customer": {"phone": "***-***-0123", "email": "j***@***.com", "name": "Jane"},
        "order_id": "1001",
        "quantity": 2,
        "amount": 1234.56,
        "confirmed": True,
        "callback": "***-***-0123",
        "cards": ["****-****-****-1111", None],
        "pair": ("***-***-0123", 1001),
    }
    assert repr(arguments) == original  # input untouched


@dataclasses.dataclass(frozen=True)
class FakeFrames:
    """Stand-in with the six DataFrame fields of oneinbox_nb.frames.CallFrames."""

    calls: pd.DataFrame
    messages: pd.DataFrame
    events: pd.DataFrame
    turns: pd.DataFrame
    components: pd.DataFrame
    problems: pd.DataFrame


def _frames() -> FakeFrames:
    calls = pd.DataFrame(
        {
            "call_id": ["c1", "c2"],
            "from_number": ["+14155550123", None],
            "to_number": ["(212) 555-0199", "anonymous"],
            "recording_url": ["https://rec.example.com/c1.wav?sig=abc123", None],
            "var_customer_email": ["jane@example.com", None],
            "meta_run_id": ["run-2024-11-24", "run-2024-11-24"],
            "meta_concurrency_at_dispatch": [3, 4],
            "analysis_summary": ["Caller (415-555-0123) asked about order 1001.", "No answer."],
            "analysis_sentiment": pd.Categorical(["positive", "neutral"]),
            "ai_summary": ["Mail sent to jane@example.com.", None],
            "duration_seconds": [61.5, 0.0],
        }
    )
    messages = pd.DataFrame(
        {
            "call_id": ["c1", "c1", "c1", "c2"],
            "role": ["user", "tool_call", "tool_result", "agent"],
            "content": [
                "my card is 4111 1111 1111 1111",
                None,
                '{"status": "shipped"}',
                "Hi there",
            ],
            "tool_arguments": [None, {"phone": "+14155550123", "order_id": "1001"}, None, None],
            "tool_arguments_raw": [
                None,
                '{"phone": "+14155550123", "order_id": "1001"}',
                None,
                None,
            ],
        }
    )
    problems = pd.DataFrame(
        {
            "call_id": ["c1"],
            "problem": ["unparseable_tool_arguments"],
            "value": ["{phone: +14155550123"],
            "detail": ["invalid JSON in '{phone: +14155550123'"],
        }
    )
    empty = pd.DataFrame({"call_id": pd.Series([], dtype="str")})
    return FakeFrames(calls, messages, empty, empty.copy(), empty.copy(), problems)


def test_redact_frames():
    frames = _frames()
    before = {f.name: getattr(frames, f.name).copy() for f in dataclasses.fields(frames)}
    out = redact_frames(frames)

    assert type(out) is FakeFrames
    calls = out.calls
    assert calls["from_number"].tolist()[0] == "***-***-0123"
    assert pd.isna(calls["from_number"].tolist()[1])
    assert calls["to_number"].tolist() == ["***-***-0199", "anonymous"]
    assert calls["recording_url"].tolist()[0] == RECORDING_PLACEHOLDER
    assert pd.isna(calls["recording_url"].tolist()[1])
    assert calls["var_customer_email"].tolist()[0] == "j***@***.com"
    assert calls["meta_run_id"].tolist() == ["run-2024-11-24", "run-2024-11-24"]
    assert calls["meta_concurrency_at_dispatch"].tolist() == [3, 4]
    assert calls["analysis_summary"].tolist() == [
        "Caller (***-***-0123) asked about order 1001.",
        "No answer.",
    ]
    assert calls["analysis_sentiment"].tolist() == ["positive", "neutral"]
    assert calls["ai_summary"].tolist()[0] == "Mail sent to j***@***.com."
    assert calls["duration_seconds"].tolist() == [61.5, 0.0]
    assert calls["call_id"].tolist() == ["c1", "c2"]

    messages = out.messages
    assert messages["content"].tolist()[0] == "my card is ****-****-****-1111"
    assert messages["content"].tolist()[2:] == ['{"status": "shipped"}', "Hi there"]
    assert messages["tool_arguments"].tolist()[1] == {"phone": "***-***-0123", "order_id": "1001"}
    assert (
        messages["tool_arguments_raw"].tolist()[1]
        == '{"phone": "***-***-0123", "order_id": "1001"}'
    )
    assert out.problems["value"].tolist() == ["{phone: ***-***-0123"]
    assert out.problems["detail"].tolist() == ["invalid JSON in '{phone: ***-***-0123'"]

    # dtypes kept, the input untouched, untouched frames shared
    for name in ("calls", "messages", "problems"):
        assert (getattr(out, name).dtypes == before[name].dtypes).all(), name
        pd.testing.assert_frame_equal(getattr(frames, name), before[name])
    assert out.events is frames.events


def test_redact_frames_rejects_other_objects():
    with pytest.raises(TypeError, match="CallFrames"):
        redact_frames({"calls": pd.DataFrame()})


def test_redact_frames_handles_100k_messages():
    # how fast (under 10 s) is a figure of `make bench` (benchmarks/time_bounds.py)
    rows = 100_000
    texts = [
        "Where is order 1001?",
        "Call me on +14155550123 or mail jane.doe@example.com",
        "It shipped yesterday.",
        "my card is 4111 1111 1111 1111 thanks",
        "latency 850.5 ms at 10:30",
    ]
    frames = _frames()
    messages = pd.DataFrame({"call_id": ["c"] * rows, "content": (texts * (rows // len(texts)))})
    frames = dataclasses.replace(frames, messages=messages)
    out = redact_frames(frames)
    assert len(out.messages) == rows
    assert out.messages["content"].iloc[1] == "Call me on ***-***-0123 or mail j***@***.com"
