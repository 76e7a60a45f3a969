"""Campaigns and statistics: the S2S platform's campaign paths and reports, Pushwoosh
v1 and v2 (``/pushwoosh``) and Altcraft (``/altcraft``), as the platforms' own
documentation describes them (docs/platforms.md lists what it leaves unsaid); see
``stats.py`` for the numbers they answer."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from flask import Blueprint, request

from .campaigns import COLLECTIONS, play
from .simulation import (
    api_header_auth,
    key_header_auth,
    simulated,
    state,
    token_body_auth,
    v1_body_auth,
)
from .stats import StatsWorld, days_between, metric

crm_campaigns = Blueprint("crm_campaigns", __name__, url_prefix="/crm")
pushwoosh = Blueprint("pushwoosh", __name__, url_prefix="/pushwoosh")
altcraft = Blueprint("altcraft", __name__, url_prefix="/altcraft")
BLUEPRINTS = (crm_campaigns, pushwoosh, altcraft)

ACTIONS = ("start", "pause", "resume", "archive")
#: A report answers at most this many objects, the totals row included.
REPORT_MAX_OBJECTS = 100
TOTALS_DATE = "1970-01-01"
#: An address whose local part starts with one of these has that action in its
#: Altcraft history too (the documented names of the actions that say an address
#: bounced, complained, unsubscribed or may not be sent to).
FEEDBACK_ACTIONS = {
    "hbounce": "hbounce",
    "complain": "complain",
    "unsub": "unsubscribe_email",
    "apiunsub": "unsub_api",
    "manualunsub": "unsub_manual",
    "stoplist": "suppress",
}
#: Altcraft knows no subscriber at this domain (what it then answers is not documented).
UNKNOWN_DOMAIN = "@unknown.example.com"
SCHEDULED = ("getMsgStats", "getCampaignStats", "getAppStats", "getEventStatistics", "getTagStats")


def _world() -> StatsWorld:
    return state().stats


def _today() -> date:
    return datetime.now(UTC).date()


# --- the S2S platform: campaigns and reports -----------------------------------------


@crm_campaigns.get("/api/v1/<collection>/<int:campaign_id>/")
@simulated("crm.campaign")
def crm_campaign(body, collection: str, campaign_id: int):
    if collection not in COLLECTIONS:
        return {"detail": "Not found."}, 404
    if _world().knobs.campaign_status_hidden:
        return {"id": campaign_id}, 200
    created = _world().created(collection, campaign_id)
    if created:
        return created[0], 200
    return {"id": campaign_id, "status": _world().status(collection, campaign_id)}, 200


@crm_campaigns.post("/api/v1/<collection>/<int:campaign_id>/<action>/")
@simulated("crm.campaign_action")
def crm_campaign_action(body, collection: str, campaign_id: int, action: str):
    if collection not in COLLECTIONS or action not in ACTIONS:
        return {"detail": "Not found."}, 404
    problem = _world().campaign_action(collection, campaign_id, action)
    if problem:
        return {"detail": problem}, 400
    if action == "start":
        _world().note_audience(collection, campaign_id, state().profile_count())
        play(collection, campaign_id)
    answer = {"id": campaign_id, "status": _world().status(collection, campaign_id)}
    return answer, _world().knobs.action_status


@crm_campaigns.get("/api/v1/reports/")
@simulated("crm.reports")
def crm_report(body):
    fields = [f for f in request.args.get("fields", "").split(",") if f]
    post = request.args.get("post", "")
    if not fields or not post:
        return {"metadata": {"ready": True}, "result": [], "error": "fields and post needed"}, 400
    world = _world()
    if not world.report_ready(post):
        return {"metadata": {"ready": False}, "result": [], "error": None}, 200
    if world.next_answer(f"report-error:{post}") <= world.knobs.report_errors:
        return {"metadata": {"ready": True}, "result": [], "error": "Report failed."}, 200
    days = _report_days(request.args.getlist("date"))
    n = world.next_answer(f"report:{post}")
    aggregates = [f for f in fields if f.startswith("sum_") or f.endswith("_rate")]
    rows = []
    if "date" in fields:
        for index, day in enumerate(days[: REPORT_MAX_OBJECTS - 1]):
            rows.append({"date": day.isoformat(), **_numbers(aggregates, n, index + 1)})
    totals = {key: sum(row[key] for row in rows) for key in aggregates} if rows else {}
    totals = totals or _numbers(aggregates, n, 0)
    played = _played_sends(post)
    if played is not None and "sum_sended" in totals:
        totals["sum_sended"] = played
    rows.append({"date": TOTALS_DATE, **{k: round(v, 4) for k, v in totals.items()}})
    return {"metadata": {"ready": True}, "result": rows, "error": None}, 200


#: A report's ``post`` letter, and the collection of its campaigns.
POST_COLLECTIONS = {"S": "mailings", "B": "ab-mailings", "A": "auto-mailings"}


def _played_sends(post: str) -> int | None:
    """How many a campaign played with its hooks sent to, for its report's totals."""
    letter, _, number = post.partition("_")
    if letter not in POST_COLLECTIONS or not number.isdigit():
        return None
    return _world().sent(POST_COLLECTIONS[letter], int(number))


def _report_days(filters: list[str]) -> list[date]:
    """The days a report covers, its ``date`` filter read as the platform's Django
    views read a parameter: the last one given. ``in:`` names days, ``ge:`` and ``le:``
    bound them, a plain date is that day; no filter is the last week."""
    today = _today()
    if not filters:
        return days_between(today - timedelta(days=7), today)
    modifier, _, value = filters[-1].rpartition(":")
    if modifier == "in":
        return sorted({d for d in map(date.fromisoformat, value.split(",")) if d <= today})
    day = date.fromisoformat(value)
    if modifier == "ge":
        return days_between(day, today)
    if modifier == "le":
        return days_between(date(2000, 1, 1), min(day, today))
    return [day] if day <= today else []


def _numbers(aggregates: list[str], n: int, index: int) -> dict[str, float]:
    return {
        name: metric(name, n, index) / (1000 if name.endswith("_rate") else 1)
        for name in aggregates
    }


# --- Pushwoosh v2 -----------------------------------------------------------------------


def _page(rows: list[dict], body: dict) -> list[dict]:
    """One page of ``rows``; a page holds at most the sandbox's ``page_size``."""
    per_page = int(body.get("per_page") or 20)
    page = int(body.get("page") or 0)
    size = min(per_page, _world().knobs.page_size)
    return rows[page * size : (page + 1) * size]


def _codes(body: dict) -> list[str]:
    filters = body.get("filters") or {}
    return list(filters.get("messages_codes") or [])


@pushwoosh.post("/api/v2/messages:list")
@simulated("pushwoosh.messages", auth=key_header_auth)
def pw_messages(body):
    n = _world().next_answer("messages")
    items = [
        {
            "id": index + 1,
            "code": code,
            "status": "done",
            "push_info": {
                "metrics": [
                    {k: metric(k, n, p) for k in ("sends", "opens", "deliveries")} | {"platform": p}
                    for p in (1, 3)
                ]
            },
        }
        for index, code in enumerate(_codes(body))
    ]
    rows = _page(items, body)
    return {"total": len(items), "items": rows}, 200


@pushwoosh.post("/api/v2/statistics/messages/totalsByIntervals")
@simulated("pushwoosh.totals", auth=key_header_auth)
def pw_totals(body):
    code = body.get("message_code")
    if not code:
        return {"message": "message_code is required"}, 400
    n = _world().next_answer(f"totals:{code}")
    names = ("sends", "opens", "deliveries", "inbox_opens", "unshowable_sends", "errors")
    metrics = [
        {"timestamp": f"2026-11-23 {hour:02d}:00:00", "platform": platform}
        | {name: str(metric(name, n, hour)) for name in names}
        for hour in (10, 11, 12)
        for platform in (1, 3)
    ]
    conversion = {
        "sends": str(metric("sends", n)),
        "opens": str(metric("opens", n)),
        "events": [{"name": "cart_add", "hits": str(metric("hits", n)), "conversion": 0.12}],
    }
    return {"metrics": metrics, "conversion": conversion}, 200


@pushwoosh.post("/api/v2/statistics/getMessageLog")
@simulated("pushwoosh.message_log", auth=key_header_auth)
def pw_message_log(body):
    code = body.get("message_code")
    if not body.get("application_code"):
        return {"message": "application_code is required"}, 400
    total = _world().knobs.message_log_rows
    start = int(str(body.get("pagination_token") or "0").removeprefix("after-"))
    size = min(int(body.get("limit") or 1000), _world().knobs.page_size)
    actions = ("sent", "delivered", "opened")
    data = [
        {
            "timestamp": f"2026-11-23T10:{i // 60 % 60:02d}:{i % 60:02d}Z",
            "message_code": code,
            "hwid": f"hwid-{i // 3}",
            "platform": "android",
            "action": actions[i % 3],
        }
        for i in range(start, min(total, start + size))
    ]
    answer: dict[str, Any] = {"data": data}
    if start + size < total:
        answer["pagination_token"] = f"after-{start + size}"
    if _world().knobs.message_log_stuck:
        answer["pagination_token"] = "after-0"
    return answer, 200


@pushwoosh.post("/api/v2/statistics/emails/linksInteractions")
@simulated("pushwoosh.links", auth=api_header_auth)
def pw_links(body):
    n = _world().next_answer("links")
    links = ("https://example.com/shop", "https://example.com/news")
    items = [{"link": link, "title": link, "clicks": metric(link, n)} for link in links]
    return {"items": items}, 200


@pushwoosh.post("/api/v2/statistics/emails/linksInteractionsDevices")
@simulated("pushwoosh.link_devices", auth=api_header_auth)
def pw_link_devices(body):
    rows = [
        {
            "timestamp": f"2026-11-23T11:00:{i % 60:02d}Z",
            "link": "https://example.com/shop",
            "hwid": f"hwid-{i}",
        }
        for i in range(_world().knobs.link_device_rows)
    ]
    page = _page(rows, body)
    return {"total": len(rows), "items": page}, 200


@pushwoosh.post("/api/v2/statistics/emails/bouncedEmails")
@simulated("pushwoosh.bounces", auth=key_header_auth)
def pw_bounces(body):
    if not isinstance(body.get("per_page"), int) or not 1 <= body["per_page"] <= 5000:
        return {"message": "per_page must be between 1 and 5000"}, 400
    kinds = ("Hardbounce", "Softbounce", "Complaint")
    rows = [
        {
            "email": f"bounce-{i}@example.com",
            "date": "2026-11-23T12:00:00.000Z",
            "reason": "Invalid recipient address",
            "type": kinds[i % 3],
        }
        for i in range(_world().knobs.bounce_rows)
    ]
    page = _page(rows, body)
    return {"total": len(rows), "bounced_emails": page}, 200


# --- Pushwoosh v1 ---------------------------------------------------------------------


@pushwoosh.post("/json/1.3/<method>")
@simulated("pushwoosh.v1", auth=v1_body_auth)
def pw_v1(body, method: str):
    params = body.get("request") or {}
    if method in SCHEDULED:
        request_id = _world().schedule(method, params)
        return _v1({"request_id": request_id}), 200
    if method != "getResults":
        return {"status_code": 210, "status_message": f"Unknown method {method}"}, 200
    found = _world().poll(str(params.get("request_id")))
    if found is False:
        return {"status_code": 210, "status_message": "Unknown request_id"}, 200
    if found is None:
        return _v1(None, "Request is being processed"), 200
    return _v1(_scheduled_result(found["method"], found["params"])), 200


def _v1(response: Any, message: str = "OK") -> dict[str, Any]:
    return {"status_code": 200, "status_message": message, "response": response}


def _scheduled_result(method: str, params: dict[str, Any]) -> Any:
    n = _world().next_answer(f"v1:{method}:{params.get('message', '')}")
    if method == "getTagStats":
        return "value;count\nvip;" + str(metric("vip", n)) + "\nregular;" + str(metric("r", n))
    rows = [
        {
            "count": metric(action, n, hour),
            "action": action,
            "datetime": f"2026-11-23 {hour:02d}:00:00",
        }
        for hour in (10, 11)
        for action in ("send", "open")
    ]
    return {"formatter": "hourly", "rows": rows}


# --- Altcraft -----------------------------------------------------------------------------


@altcraft.post("/api/v1.1/subscribers/history_get")
@simulated("altcraft.history", auth=token_body_auth)
def altcraft_history(body):
    if not isinstance(body.get("list_id"), int):
        return {"error": 400, "error_text": "list_id is required"}, 200
    email = body.get("email") if body.get("matching", "email") == "email" else None
    if not email and not body.get("xxh"):
        return {"error": 400, "error_text": "The profile is not identified"}, 200
    who = email or body["xxh"]
    if str(who).endswith(UNKNOWN_DOMAIN):
        return {"error": 1, "error_text": "Subscriber not found"}, 200
    n = _world().next_answer(f"history:{who}")
    actions = ("send", "deliv", "open", "click")
    data = [
        {
            "action": actions[index % len(actions)],
            "count": 1,
            "datetime": f"2026-11-23T12:{index // 60:02d}:{index % 60:02d}Z",
            "email": email,
            "list_id": body["list_id"],
            "message_id": 1,
            "campaign_id": 1,
        }
        for index in range(n + 1)
    ]
    local = str(email or "").split("@")[0]
    data += [
        {**data[0], "action": action, "datetime": "2026-11-23T13:00:00Z"}
        for prefix, action in FEEDBACK_ACTIONS.items()
        if local.startswith(prefix)
    ]
    return {"data": data, "error": 0, "error_text": "Successful operation"}, 200
