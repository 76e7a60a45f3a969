"""What the OpenAPI document shows as examples (webhook/api/operations.py): what
"Try it out" starts from, each valid as shown (tests/webhook/test_openapi.py checks)."""

from __future__ import annotations

#: What "Try it out" starts from: valid as shown (a repeated id is a duplicate, 202).
PROFILE_EXAMPLE = {
    "id": "evt-123",
    "type": "profile",
    "timestamp": "2026-11-23T10:00:00Z",
    "user": {"uid": "42", "email": "a@example.com"},
    "fields": {"level": 7},
}
TRACK_EXAMPLE = {
    "id": "evt-124",
    "type": "event",
    "timestamp": "2026-11-23T10:00:01Z",
    "user": {"uid": "42"},
    "name": "login_user",
    "payload": {"source": "ios"},
}
CAMPAIGN_EXAMPLE = {
    "id": "start-9093",
    "type": "campaign_start",
    "timestamp": "2026-11-23T10:00:00Z",
    "campaign": {"platform": "crm", "kind": "mailing", "id": 9093},
}
EVENT_EXAMPLES = {
    "batch": {
        "summary": "A profile update and an event, in one batch",
        "value": {"events": [PROFILE_EXAMPLE, TRACK_EXAMPLE]},
    },
    "profile": {"summary": "One profile update", "value": PROFILE_EXAMPLE},
    "event": {"summary": "One tracking event", "value": TRACK_EXAMPLE},
    "campaign_start": {"summary": "Start a campaign, once", "value": CAMPAIGN_EXAMPLE},
}
SEGMENT_BATCH_EXAMPLE = {
    "batch": [
        {
            "type": "identify",
            "messageId": "9f1c1e5e-4a43-4c6b-9a89-3c2f1a5f2f10",
            "timestamp": "2026-11-23T10:00:00.000+00:00",
            "userId": "42",
            "traits": {"email": "a@example.com", "plan": "pro"},
        },
        {
            "type": "track",
            "messageId": "0b4d7a4e-0d0c-4f51-8a4d-2f8a1c6f0e21",
            "timestamp": "2026-11-23T10:00:01.000+00:00",
            "userId": "42",
            "event": "Order Completed",
            "properties": {"total": 12.5},
        },
    ],
    "sentAt": "2026-11-23T10:00:02.000+00:00",
}
