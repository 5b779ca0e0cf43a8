"""What the sample agents say: agents, provider setups, tools and conversation lines.

Pure data plus small builders, used by :mod:`oneinbox_nb.sample.generator`. Four agents of a fictional
workspace, each with a topic (order status, appointment booking, billing, support), a provider setup, a
few tools, knowledge-base questions and plain small talk. Lines are ``str.format`` templates filled from
a call's variables.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from random import Random
from typing import Any

__all__ = [
    "AGENTS",
    "PROVIDER_SETUPS",
    "AgentProfile",
    "KBQuestion",
    "ProviderSetup",
    "Tool",
    "call_variables",
]

Context = dict[str, Any]


@dataclass(frozen=True)
class ProviderSetup:
    """The speech-to-text, LLM and text-to-speech vendors of an agent, with their speed.

    Medians are in milliseconds, before load and per-call effects.
    """

    name: str
    stt: str
    llm: str
    tts: str
    stt_ms: float
    llm_ms: float
    tts_ms: float

    @property
    def providers(self) -> dict[str, str]:
        return {"stt": self.stt, "llm": self.llm, "tts": self.tts}


PROVIDER_SETUPS: dict[str, ProviderSetup] = {
    "deepgram/openai/cartesia": ProviderSetup(
        "deepgram/openai/cartesia", "deepgram", "openai", "cartesia", 280.0, 380.0, 125.0
    ),
    "assemblyai/anthropic/elevenlabs": ProviderSetup(
        "assemblyai/anthropic/elevenlabs",
        "assemblyai",
        "anthropic",
        "elevenlabs",
        350.0,
        520.0,
        185.0,
    ),
    "deepgram/google/elevenlabs": ProviderSetup(
        "deepgram/google/elevenlabs", "deepgram", "google", "elevenlabs", 290.0, 440.0, 180.0
    ),
}


@dataclass(frozen=True)
class Tool:
    """A function the agent can call mid-turn.

    ``user`` lines lead to the call, ``agent`` lines follow a successful result, ``median_ms`` is the
    tool's typical run time.
    """

    name: str
    arguments: Callable[[Context], dict[str, Any]]
    result: Callable[[Context, Random], dict[str, Any]]
    user: tuple[str, ...]
    agent: tuple[str, ...]
    median_ms: float = 350.0
    errors: tuple[str, ...] = (
        "upstream timeout after 5000 ms",
        "503 Service Unavailable from CRM",
        "connection reset by peer",
    )


@dataclass(frozen=True)
class KBQuestion:
    """A question answered from the knowledge base (an ``llm_ttft -> kb -> llm_ttft`` turn)."""

    user: str
    agent: str


@dataclass(frozen=True)
class AgentProfile:
    """One agent of the sample workspace."""

    key: str
    name: str
    company: str
    topic: str
    setup: ProviderSetup
    greeting: str
    opening: tuple[str, ...]
    tools: tuple[Tool, ...]
    kb: tuple[KBQuestion, ...]
    small_talk: tuple[tuple[str, str], ...]
    closing: tuple[tuple[str, str], ...]
    voicemail: str
    extraction_tool: str
    outcomes: dict[str | None, float]
    summary: str
    number: str
    max_duration_s: float = 900.0
    static_greeting: bool = False
    kb_rate: float = 0.12
    tool_rate: float = 0.12
    hold_line_rate: float = 0.3
    extracted: Callable[[Context], dict[str, Any]] = field(default=lambda ctx: {})

    def tool(self, name: str) -> Tool:
        """The tool called ``name``."""
        for tool in self.tools:
            if tool.name == name:
                return tool
        raise KeyError(name)


FIRST_NAMES = (
    "Maria", "James", "Priya", "Chen", "Olivia", "Mohammed", "Sofia", "Daniel", "Aisha", "Lucas",
    "Emma", "Kenji", "Grace", "Mateo", "Hannah", "Omar", "Chloe", "Noah", "Fatima", "Ethan",
    "Zoe", "Ravi", "Isabella", "Samuel", "Mei", "Diego", "Amara", "Liam", "Nadia", "Tomás",
)  # fmt: skip
LAST_NAMES = (
    "Garcia", "Smith", "Patel", "Wang", "Johnson", "Khan", "Rossi", "Kim", "Okafor", "Silva",
    "Brown", "Tanaka", "Miller", "Lopez", "Nguyen", "Haddad", "Martin", "Clarke", "Ali", "Walsh",
)  # fmt: skip
CITIES = (
    ("Portland", "OR", "97205"), ("Austin", "TX", "78704"), ("Denver", "CO", "80203"),
    ("Columbus", "OH", "43215"), ("Raleigh", "NC", "27601"), ("Tucson", "AZ", "85701"),
    ("Madison", "WI", "53703"), ("Richmond", "VA", "23219"),
)  # fmt: skip
STREETS = ("Oak Street", "Maple Avenue", "Cedar Lane", "Elm Drive", "Pine Road", "Birch Court")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")
SLOTS = ("9:00 AM", "9:30 AM", "10:15 AM", "11:00 AM", "1:30 PM", "2:45 PM", "3:30 PM", "4:15 PM")
CARRIERS = ("UPS", "FedEx", "USPS")
PRODUCTS = (
    ("Trail Runner 3 shoes", 12900), ("Merino base layer", 8900), ("Packable rain shell", 15900),
    ("Insulated bottle", 3400), ("Wool socks, 3-pack", 2700), ("Daypack 24L", 11900),
    ("Fleece quarter-zip", 7900), ("Camp mug", 1900),
)  # fmt: skip
DENTISTS = ("Dr. Alvarez", "Dr. Brooks", "Dr. Nakamura")
PLANS = ("Home 300", "Home 500", "Gig Plus")


def call_variables(rng: Random, topic: str) -> Context:
    """The ``variables`` a caller would pass for one call of ``topic`` (plus private filler values).

    Keys starting with ``_`` feed the templates but are not sent as call variables.
    """
    first = rng.choice(FIRST_NAMES)
    last = rng.choice(LAST_NAMES)
    city, state, zip_code = rng.choice(CITIES)
    ctx: Context = {
        "customer_name": first,
        "_full_name": f"{first} {last}",
        "_email": f"{first.lower()}.{last.lower()}@example.com",
        "_address": f"{rng.randint(12, 4800)} {rng.choice(STREETS)}, {city}, {state} {zip_code}",
        "_zip": zip_code,
        "_weekday": rng.choice(WEEKDAYS),
        "_slot": rng.choice(SLOTS),
        "_slot2": rng.choice(SLOTS),
        "_day": rng.randint(21, 30),
        "_carrier": rng.choice(CARRIERS),
        "_amount": f"{rng.randint(38, 240)}.{rng.randint(0, 99):02d}",
        "_late_fee": rng.choice(("5.00", "7.50", "10.00")),
        "_dentist": rng.choice(DENTISTS),
        "_plan": rng.choice(PLANS),
        "_ticket": f"T-{rng.randint(100000, 999999)}",
        "_last4": f"{rng.randint(0, 9999):04d}",
        "_product": rng.choice(PRODUCTS),
    }
    if topic == "orders":
        ctx["order_id"] = f"AC-{rng.randint(10000, 99999)}"
    elif topic == "appointments":
        ctx["patient_id"] = f"P{rng.randint(100000, 999999)}"
        ctx["appointment_type"] = rng.choice(("cleaning", "check-up", "filling", "consultation"))
    elif topic == "billing":
        ctx["account_id"] = f"BW-{rng.randint(1000000, 9999999)}"
    else:
        ctx["account_id"] = f"NB-{rng.randint(100000, 999999)}"
    return ctx


def _json(obj: Any) -> str:
    return json.dumps(obj, separators=(", ", ": "))


# --- order status: Ava at Acme Outfitters -------------------------------------------------------


def _order_result(ctx: Context, rng: Random) -> dict[str, Any]:
    items = [
        {
            "sku": f"SKU-{rng.randint(100000, 999999)}",
            "name": name,
            "qty": rng.randint(1, 2),
            "price_cents": price,
        }
        for name, price in rng.sample(PRODUCTS, rng.randint(1, 3))
    ]
    result: dict[str, Any] = {
        "order_id": ctx["order_id"],
        "status": "shipped",
        "carrier": ctx["_carrier"],
        "tracking_number": f"1Z{rng.getrandbits(48):012X}",
        "eta": f"2026-11-{ctx['_day']:02d}",
        "items": items,
        "shipping_address": ctx["_address"],
    }
    if rng.random() < 0.15:  # some order systems return the whole history: a large tool result
        result["events"] = [
            {
                "at": f"2026-11-{10 + i // 4:02d}T{8 + i % 10:02d}:{(7 * i) % 60:02d}:00Z",
                "location": rng.choice(CITIES)[0],
                "description": "Package scanned at facility",
            }
            for i in range(rng.randint(12, 30))
        ]
    return result


ORDERS = dict(
    key="orders",
    name="Ava",
    company="Acme Outfitters",
    topic="order status",
    setup=PROVIDER_SETUPS["deepgram/openai/cartesia"],
    greeting="Hi, thanks for calling Acme Outfitters, this is Ava. How can I help you today?",
    opening=(
        "Hi, I'm calling about my order. It's {order_id}.",
        "Hey, where's my order? The number is {order_id}.",
        "Hi Ava, I wanted to check on order {order_id}, it hasn't arrived yet.",
    ),
    tools=(
        Tool(
            "lookup_order",
            lambda ctx: {"order_id": ctx["order_id"]},
            _order_result,
            ("Can you check where it is right now?", "Can you look up {order_id} for me?"),
            (
                "Thanks for waiting. Order {order_id} shipped with {_carrier} and should arrive on "
                "November {_day}.",
                "I found it: your order is with {_carrier} and the estimated delivery is "
                "November {_day}.",
            ),
            median_ms=320.0,
        ),
        Tool(
            "update_shipping_address",
            lambda ctx: {"order_id": ctx["order_id"], "address": ctx["_address"]},
            lambda ctx, rng: {"order_id": ctx["order_id"], "updated": True},
            ("Can you change the delivery address to {_address}?",),
            ("Done. The delivery address for {order_id} is now {_address}.",),
            median_ms=480.0,
        ),
        Tool(
            "start_return",
            lambda ctx: {"order_id": ctx["order_id"], "reason": "wrong_size"},
            lambda ctx, rng: {
                "return_id": f"R-{rng.randint(10000, 99999)}",
                "label_url": "https://returns.example.com/label",
            },
            ("The shoes are the wrong size. Can I return them?",),
            ("I've started the return and emailed you a free return label to {_email}.",),
            median_ms=650.0,
        ),
    ),
    kb=(
        KBQuestion(
            "What's your return policy?",
            "You can return unworn items within 30 days for a full refund, and the return label "
            "is free.",
        ),
        KBQuestion(
            "Do you ship to Canada?",
            "We do. Shipping to Canada takes five to eight business days, and duties are included.",
        ),
        KBQuestion(
            "How long does a refund take?",
            "Refunds go back to the original payment method within five business days of us "
            "receiving the item.",
        ),
    ),
    small_talk=(
        ("Okay.", "Is there anything else I can help you with?"),
        ("Sorry, can you repeat the date?", "Of course. It should arrive on November {_day}."),
        (
            "Will someone need to sign for it?",
            "No signature is needed; it will be left at the door.",
        ),
        ("Can you text me the tracking link?", "Sure, I've sent the tracking link by text."),
    ),
    closing=(
        ("That's all, thanks.", "You're welcome, {customer_name}. Have a great day!"),
        ("Great, thank you so much.", "Happy to help. Enjoy your order!"),
    ),
    voicemail="Hi {customer_name}, this is Ava from Acme Outfitters about order {order_id}. "
    "Please call us back at your convenience. Thanks!",
    extraction_tool="order_details",
    outcomes={None: 50, "Callback Requested": 20, "Interested": 18, "Not Interested": 12},
    summary="{customer_name} asked about order {order_id}; Ava confirmed it shipped with {_carrier}.",
    number="+15035550142",
    extracted=lambda ctx: {
        "order_id": ctx["order_id"],
        "issue": "delivery_status",
        "carrier": ctx["_carrier"],
    },
)


# --- appointment booking: Max at Northside Dental -----------------------------------------------

APPOINTMENTS = dict(
    key="appointments",
    name="Max",
    company="Northside Dental",
    topic="appointment booking",
    setup=PROVIDER_SETUPS["assemblyai/anthropic/elevenlabs"],
    greeting="Hello {customer_name}, this is Max calling from Northside Dental. Is now a good time "
    "to schedule your {appointment_type}?",
    opening=(
        "Yes, I need to book a {appointment_type}.",
        "Sure, what times do you have next week?",
        "Hi, yes. Do you have anything on {_weekday}?",
    ),
    tools=(
        Tool(
            "check_availability",
            lambda ctx: {"date": f"2026-11-{ctx['_day']:02d}", "provider": ctx["_dentist"]},
            lambda ctx, rng: {
                "date": f"2026-11-{ctx['_day']:02d}",
                "slots": sorted({ctx["_slot"], ctx["_slot2"], rng.choice(SLOTS)}),
                "provider": ctx["_dentist"],
            },
            ("What does {_weekday} look like?", "Do you have anything in the afternoon?"),
            ("{_dentist} has openings at {_slot} and {_slot2} on {_weekday}. Which works better?",),
            median_ms=420.0,
        ),
        Tool(
            "book_appointment",
            lambda ctx: {
                "patient_id": ctx["patient_id"],
                "slot": f"2026-11-{ctx['_day']:02d} {ctx['_slot']}",
                "type": ctx["appointment_type"],
            },
            lambda ctx, rng: {"confirmation": f"ND-{rng.randint(1000, 9999)}", "status": "booked"},
            ("{_slot} works. Please book it.", "Let's do {_slot}."),
            (
                "You're all set for {_weekday} at {_slot} with {_dentist}. You'll get a text "
                "confirmation shortly.",
            ),
            median_ms=560.0,
        ),
    ),
    kb=(
        KBQuestion(
            "Do you take Delta Dental?",
            "Yes, we're in network with Delta Dental PPO and most major PPO plans.",
        ),
        KBQuestion(
            "Where do I park?",
            "There's free parking behind the building; the entrance is on the north side.",
        ),
        KBQuestion(
            "What should I bring to my first visit?",
            "Please bring a photo ID, your insurance card and a list of any medications you take.",
        ),
    ),
    small_talk=(
        ("Hmm, let me think.", "Take your time."),
        ("Sorry, which dentist was that?", "That would be {_dentist}."),
        ("How long will it take?", "A {appointment_type} usually takes about forty-five minutes."),
        ("Okay.", "Is there anything else I can help you with?"),
    ),
    closing=(
        ("No, that's it. Thanks.", "Thank you, {customer_name}. See you soon!"),
        ("Great, bye.", "Goodbye, and have a nice day."),
    ),
    voicemail="Hi {customer_name}, this is Max from Northside Dental. We'd love to get your "
    "{appointment_type} on the calendar. Please call us back. Thank you!",
    extraction_tool="appointment_request",
    outcomes={
        "Appointment Booked": 48,
        "Interested": 14,
        "Not Interested": 20,
        "Callback Requested": 12,
        None: 6,
    },
    summary="Max called {customer_name} to schedule a {appointment_type} with {_dentist}.",
    number="+16085550117",
    static_greeting=False,
    extracted=lambda ctx: {
        "patient_id": ctx["patient_id"],
        "appointment_type": ctx["appointment_type"],
        "preferred_day": ctx["_weekday"],
        "preferred_time": ctx["_slot"],
    },
)


# --- billing: Lena at Brightwave Energy ---------------------------------------------------------

BILLING = dict(
    key="billing",
    name="Lena",
    company="Brightwave Energy",
    topic="billing",
    setup=PROVIDER_SETUPS["deepgram/openai/cartesia"],
    greeting="Thank you for calling Brightwave Energy billing. My name is Lena. How can I help?",
    opening=(
        "Hi, I have a question about my bill. My account is {account_id}.",
        "My bill is way higher this month. Account {account_id}.",
        "I'd like to pay my balance. The account number is {account_id}.",
    ),
    tools=(
        Tool(
            "get_balance",
            lambda ctx: {"account_id": ctx["account_id"]},
            lambda ctx, rng: {
                "account_id": ctx["account_id"],
                "balance": ctx["_amount"],
                "due_date": f"2026-12-{rng.randint(1, 15):02d}",
                "last_payment": f"{rng.randint(40, 200)}.00",
            },
            ("What do I owe right now?", "Can you check my balance?"),
            ("Your current balance is ${_amount}, due early next month.",),
            median_ms=300.0,
        ),
        Tool(
            "process_payment",
            lambda ctx: {
                "account_id": ctx["account_id"],
                "amount": ctx["_amount"],
                "card_last4": ctx["_last4"],
            },
            lambda ctx, rng: {
                "payment_id": f"PAY-{rng.getrandbits(40):010x}",
                "status": "approved",
            },
            ("I'll pay it now with the card ending in {_last4}.",),
            ("Your payment of ${_amount} went through. You'll get a receipt by email.",),
            median_ms=900.0,
        ),  # fmt: skip
        Tool(
            "set_up_payment_plan",
            lambda ctx: {"account_id": ctx["account_id"], "installments": 3},
            lambda ctx, rng: {"plan_id": f"PP-{rng.randint(1000, 9999)}", "installments": 3},
            ("Can I split that into payments?",),
            ("I've set up a three-month payment plan; the first installment is due next month.",),
            median_ms=700.0,
        ),
    ),
    kb=(
        KBQuestion(
            "Why is my bill higher this month?",
            "Winter rates started on November first, and colder weather usually raises heating use.",
        ),
        KBQuestion(
            "What's the late fee?",
            "The late fee is ${_late_fee} if a payment is more than ten days past the due date.",
        ),
        KBQuestion(
            "Can I get paperless billing?",
            "Yes, you can switch to paperless billing in the app under Account, then Statements.",
        ),
    ),
    small_talk=(
        ("Okay, hold on.", "Sure, take your time."),
        ("Sorry, how much was that?", "Your balance is ${_amount}."),
        ("Okay.", "Is there anything else I can help with today?"),
    ),
    closing=(
        ("No, that's everything.", "Thanks for calling Brightwave, {customer_name}. Goodbye!"),
        ("Thanks, bye.", "You're welcome. Have a good evening."),
    ),
    voicemail="Hi {customer_name}, this is Lena from Brightwave Energy about account {account_id}. "
    "Please give us a call back.",
    extraction_tool="billing_inquiry",
    outcomes={None: 40, "Callback Requested": 22, "Interested": 22, "Not Interested": 16},
    summary="{customer_name} called about the balance on account {account_id} (${_amount}).",
    number="+15125550163",
    static_greeting=True,
    extracted=lambda ctx: {
        "account_id": ctx["account_id"],
        "balance": ctx["_amount"],
        "topic": "balance",
    },
)


# --- support: Sam at Nimbus Internet ------------------------------------------------------------

SUPPORT = dict(
    key="support",
    name="Sam",
    company="Nimbus Internet",
    topic="support",
    setup=PROVIDER_SETUPS["deepgram/google/elevenlabs"],
    greeting="Hi, you've reached Nimbus Internet support, this is Sam. What can I do for you?",
    opening=(
        "My internet keeps dropping. Account {account_id}.",
        "Hi, the Wi-Fi has been down since this morning.",
        "Hey, my connection is really slow tonight.",
    ),
    tools=(
        Tool(
            "check_outage",
            lambda ctx: {"zip": ctx["_zip"]},
            lambda ctx, rng: {"zip": ctx["_zip"], "outage": False, "maintenance_window": None},
            ("Is there an outage in {_zip}?", "Is something going on in my area?"),
            ("There's no outage reported in {_zip} right now.",),
            median_ms=380.0,
        ),
        Tool(
            "reset_router",
            lambda ctx: {"account_id": ctx["account_id"]},
            lambda ctx, rng: {"account_id": ctx["account_id"], "reset": "sent", "eta_s": 120},
            ("Can you reset it from your end?",),
            ("I've sent a reset to your router; it will restart within two minutes.",),
            median_ms=1100.0,
        ),
        Tool(
            "create_ticket",
            lambda ctx: {
                "account_id": ctx["account_id"],
                "issue": "intermittent_connection",
                "priority": "normal",
            },
            lambda ctx, rng: {"ticket_id": ctx["_ticket"], "status": "open"},
            ("Can you open a ticket for a technician?",),
            ("I've opened ticket {_ticket}; a technician will call you within one business day.",),
            median_ms=520.0,
        ),  # fmt: skip
    ),
    kb=(
        KBQuestion(
            "What do the lights on the router mean?",
            "A solid white light means you're online; a blinking orange light means the router "
            "can't reach our network.",
        ),
        KBQuestion(
            "Can I upgrade my plan?",
            "Yes, you're on {_plan}; you can move up a tier any time and it applies immediately.",
        ),
        KBQuestion(
            "How do I change my Wi-Fi password?",
            "Open the Nimbus app, tap Wi-Fi, then Network settings, and choose a new password.",
        ),
    ),
    small_talk=(
        ("Okay, it's restarting.", "Great, let's give it a minute."),
        ("Sorry, what was that?", "No problem. I said the router should restart shortly."),
        ("Alright.", "Is there anything else I can help with?"),
        ("It's still slow.", "I understand, that's frustrating. Let's try one more thing."),
    ),
    closing=(
        ("It's working now, thanks.", "Glad to hear it, {customer_name}. Have a good night!"),
        ("Okay, thanks for your help.", "You're welcome. Take care."),
    ),
    voicemail="Hi {customer_name}, this is Sam from Nimbus Internet following up on your service. "
    "Please call us back.",
    extraction_tool="support_ticket",
    outcomes={None: 50, "Callback Requested": 28, "Interested": 10, "Not Interested": 12},
    summary="{customer_name} reported connection problems on account {account_id}.",
    number="+17205550188",
    extracted=lambda ctx: {
        "account_id": ctx["account_id"],
        "issue": "intermittent_connection",
        "plan": ctx["_plan"],
    },
)

AGENTS: dict[str, AgentProfile] = {
    spec["key"]: AgentProfile(**spec)  # type: ignore[arg-type]
    for spec in (ORDERS, APPOINTMENTS, BILLING, SUPPORT)
}

HOLD_LINES = ("One moment while I check that.", "Let me look that up for you.", "Sure, one sec.")
ERROR_LINES = (
    "Sorry, I'm having trouble reaching our system right now. Let me try that another way.",
    "I apologize, that didn't go through on my end. I can have someone follow up with you.",
)


def encode_arguments(arguments: dict[str, Any]) -> str:
    """Tool-call arguments as the JSON-encoded string the API carries."""
    return _json(arguments)


def encode_result(result: dict[str, Any]) -> str:
    """A tool result as the string ``content`` the API carries."""
    return _json(result)
