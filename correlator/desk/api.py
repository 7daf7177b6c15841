"""The desk API (docs/desk.md) and the desk page, as a FastAPI router.

Every read answers from the worker's `DeskView`, so any worker answers any request alike.
Records are served as they were published, with a `desk` object added (`at_risk`,
`overdue`, and `subscribers` including those asked for since the last version).
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from typing import Annotated, Literal

import orjson
from fastapi import APIRouter, Body, Header, Path, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from correlator.core.model import IncidentRecord
from correlator.desk.callers import affecting, find_caller, say
from correlator.desk.impact import UnknownNodeError, impact_document, resolve_nodes
from correlator.desk.metrics import summarise
from correlator.desk.subscriptions import Subscription
from correlator.desk.view import DeskRecord, DeskView, Filters, now_utc
from topology import Topology

#: Produces one subscription and returns once the broker acknowledged it (raises otherwise).
Subscribe = Callable[[Subscription], Awaitable[None]]


@dataclass(slots=True)
class Desk:
    view: DeskView
    topology: Callable[[], Topology | None]
    """The worker's current topology (None until loaded); read per request, so a reload
    shows at once."""
    subscribe: Subscribe | None = None
    token: str | None = None
    clock: Callable[[], datetime] = now_utc


class IncidentList(BaseModel):
    incidents: list[IncidentRecord]


class History(BaseModel):
    versions: list[IncidentRecord] = Field(description="oldest first, as far back as kept")


class CallerUser(BaseModel):
    id: str
    name: str | None
    email: str | None
    groups: list[str]
    site: str | None
    site_name: str | None = None


class CallerIncident(BaseModel):
    id: str
    title: str
    priority: int
    say: str = Field(description="one sentence to read out to the caller")
    next_update_at: datetime | None
    at_risk: bool = Field(description="the caller can still work: only warnings so far")


class CallerAnswer(BaseModel):
    user: CallerUser
    incidents: list[CallerIncident]


class SubscriptionRequest(BaseModel):
    user: str = Field(min_length=1, description="user id or e-mail from the directory")


class Problem(BaseModel):
    ok: bool = False
    reason: str


def _json(body: object, code: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=code, media_type="application/json")


def _problem(code: int, reason: str) -> Response:
    return _json({"ok": False, "reason": reason}, code)


_PAGE_FILES = {
    "": ("index.html", "text/html; charset=utf-8"),
    "desk.js": ("desk.js", "text/javascript; charset=utf-8"),
    "desk.css": ("desk.css", "text/css; charset=utf-8"),
}


def _page(name: str) -> bytes:
    return resources.files("correlator.desk").joinpath("page", name).read_bytes()


def token_ok(authorization: str | None, token: str | None) -> bool:
    if token is None:
        return True
    given = (authorization or "").encode()
    return hmac.compare_digest(given, b"Bearer " + token.encode())


def desk_router(desk: Desk) -> APIRouter:
    router = APIRouter()
    view = desk.view
    pages = {path: (_page(name), kind) for path, (name, kind) in _PAGE_FILES.items()}

    def with_desk(record: DeskRecord, raw: dict[str, object]) -> dict[str, object]:
        now = desk.clock()
        return {
            **raw,
            "desk": {
                "at_risk": record.at_risk,
                "overdue": record.overdue(now),
                "subscribers": view.subscribers(record.id),
            },
        }

    @router.get("/", include_in_schema=False)
    def page() -> Response:
        body, kind = pages[""]
        return Response(body, media_type=kind, headers={"Cache-Control": "no-store"})

    @router.get("/page/{name}", include_in_schema=False)
    def page_file(name: str) -> Response:
        if name not in pages or not name:
            return _problem(404, "not found")
        body, kind = pages[name]
        return Response(body, media_type=kind)

    @router.get(
        "/api/v1/incidents",
        responses={200: {"model": IncidentList}},
        summary="The latest version of each incident",
    )
    def incidents(
        *,
        status: Literal["open", "resolved", "all"] = "open",
        service: str | None = None,
        business_service: str | None = None,
        user_group: str | None = None,
        site: str | None = None,
        priority: Annotated[int | None, Query(ge=1, le=5)] = None,
        assignment_group: str | None = None,
    ) -> Response:
        filters = Filters(
            status=status,
            service=service,
            business_service=business_service,
            user_group=user_group,
            site=site,
            priority=priority,
            assignment_group=assignment_group,
        )
        found = []
        for record in view.records(filters):
            raw = view.raw(record.id)
            if raw is not None:
                found.append(with_desk(record, raw))
        return _json({"incidents": found})

    @router.get(
        "/api/v1/incidents/{incident_id}",
        responses={200: {"model": IncidentRecord}, 404: {"model": Problem}},
        summary="The latest version of one incident",
    )
    def incident(incident_id: str) -> Response:
        record, raw = view.get(incident_id), view.raw(incident_id)
        if record is None or raw is None:
            return _problem(404, f"no incident {incident_id!r}")
        return _json(with_desk(record, raw))

    @router.get(
        "/api/v1/incidents/{incident_id}/history",
        responses={200: {"model": History}, 404: {"model": Problem}},
        summary="Every version kept of one incident, oldest first",
    )
    def history(incident_id: str) -> Response:
        versions = view.history_of(incident_id)
        if versions is None:
            return _problem(404, f"no incident {incident_id!r}")
        return _json({"versions": versions})

    @router.get(
        "/api/v1/callers/{who}",
        response_model=CallerAnswer,
        responses={404: {"model": Problem}, 503: {"model": Problem}},
        summary="Is this caller affected? By user id or e-mail",
    )
    def caller(who: Annotated[str, Path(min_length=1)]) -> Response:
        topology = desk.topology()
        if topology is None:
            return _problem(503, "starting: no topology loaded yet")
        person = find_caller(topology, who)
        if person is None:
            return _problem(404, f"no user {who!r} in the topology's directory")
        now = desk.clock()
        hits = affecting(person, view.records())
        answer = CallerAnswer(
            user=CallerUser(
                id=person.id,
                name=person.name,
                email=person.email,
                groups=list(person.groups),
                site=person.site,
                site_name=person.site_name,
            ),
            incidents=[
                CallerIncident(
                    id=r.id,
                    title=r.title,
                    priority=r.priority,
                    say=say(r, person, topology, now),
                    next_update_at=r.next_update_at,
                    at_risk=r.at_risk,
                )
                for r in hits
            ],
        )
        return _json(answer.model_dump(mode="json"))

    @router.get(
        "/api/v1/impact",
        responses={404: {"model": Problem}, 503: {"model": Problem}},
        summary="Who is affected if these nodes fail (as `correlator topology impact --json`)",
    )
    def impact(node: Annotated[list[str], Query(min_length=1)]) -> Response:
        topology = desk.topology()
        if topology is None:
            return _problem(503, "starting: no topology loaded yet")
        try:
            failed = resolve_nodes(topology, node)
        except UnknownNodeError as exc:
            return _problem(404, str(exc))
        return _json(impact_document(topology, failed))

    @router.get("/api/v1/summary", summary="Process figures for the desk page")
    def summary() -> Response:
        return _json(summarise(view, desk.topology(), desk.clock()).as_dict())

    @router.post(
        "/api/v1/incidents/{incident_id}/subscriptions",
        status_code=202,
        responses={401: {"model": Problem}, 404: {"model": Problem}, 503: {"model": Problem}},
        summary="Subscribe a person to an incident's updates",
    )
    async def subscribe(
        incident_id: str,
        request: Annotated[SubscriptionRequest, Body()],
        authorization: Annotated[str | None, Header()] = None,
    ) -> Response:
        if not token_ok(authorization, desk.token):
            return _problem(401, "missing or wrong bearer token")
        if view.get(incident_id) is None:
            return _problem(404, f"no incident {incident_id!r}")
        topology = desk.topology()
        person = find_caller(topology, request.user) if topology is not None else None
        if person is None:
            return _problem(404, f"no user {request.user!r} in the topology's directory")
        if desk.subscribe is None:
            return _problem(503, "starting: subscriptions are not open yet")
        subscription = Subscription(incident=incident_id, user=person.id, requested_at=desk.clock())
        try:
            await desk.subscribe(subscription)
        except Exception as exc:  # not acknowledged: the caller may retry
            return _problem(503, f"not written to Kafka: {exc or 'not acknowledged in time'}")
        return _json({"ok": True, "incident": incident_id, "user": person.id}, 202)

    return router
