"""The agent inbox: handed-off conversations as tickets, each with the whole packet and its deliveries."""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

from bot.handoff import REASONS, STATUSES, get_ticket, packet, set_status
from bot.inbox import list_inbox
from bot.outbox import retry_failed, ticket_deliveries
from web.auth import AgentDep, AgentFormDep
from web.deps import ServicesDep, SettingsDep
from web.routes.admin import NO_STORE, render_admin
from web.templating import base_url

router = APIRouter(prefix="/admin/tickets", include_in_schema=False)
Status = Literal["open", "pending", "closed"]
StatusFilter = Literal["", "open", "pending", "closed"]  # "" lists every status
# Messages shown after a change are picked from this table by key: nothing from the address is echoed.
SAVED = {"open": "Status set to open.", "pending": "Status set to pending.", "closed": "Status set to closed.",
         "retry": "Failed deliveries are queued again."}


@router.get("", response_class=HTMLResponse)
def tickets(request: Request, admin: AgentDep, services: ServicesDep,
            status: StatusFilter = "", q: Annotated[str, Query(max_length=200)] = "") -> HTMLResponse:
    inbox = list_inbox(services.db(), status=status or None, query=q)
    return render_admin(request, "admin/tickets.html", {
        "inbox": inbox, "status": status, "q": q.strip(), "statuses": STATUSES, "reasons": REASONS,
    })


# Declared before "/{reference}", which would otherwise take "T-ABC234.json" as a reference.
@router.get("/{reference}.json")
def ticket_json(reference: str, admin: AgentDep, services: ServicesDep, settings: SettingsDep,
                request: Request) -> JSONResponse:
    """The handoff packet, exactly as the webhook receives it."""
    db = services.db()
    ticket = get_ticket(db, reference)
    return JSONResponse(packet(db, ticket, base_url(request, settings)), headers={
        **NO_STORE, "Content-Disposition": f'attachment; filename="{ticket.reference}.json"',
    })


@router.get("/{reference}", response_class=HTMLResponse)
def ticket(request: Request, reference: str, admin: AgentDep, services: ServicesDep,
           settings: SettingsDep, saved: str = "") -> HTMLResponse:
    db = services.db()
    found = get_ticket(db, reference)
    data = packet(db, found, base_url(request, settings))
    deliveries = ticket_deliveries(db, found.id)
    return render_admin(request, "admin/ticket.html", {
        "ticket": found, "packet": data, "deliveries": deliveries, "statuses": STATUSES,
        "titles": {a["slug"]: a for a in data["articles_suggested"]},
        "failed": [d for d in deliveries if d.status == "failed"],
        "saved_status": "" if saved == "retry" else SAVED.get(saved, ""),
        "saved_delivery": SAVED["retry"] if saved == "retry" else "",
        "delivery_configured": services.outbox is not None,
    })


def _back(reference: str, saved: str, anchor: str = "status") -> RedirectResponse:
    return RedirectResponse(f"/admin/tickets/{quote(reference)}?saved={saved}#{anchor}", status_code=303)


@router.post("/{reference}/status")
def change_status(reference: str, admin: AgentFormDep, services: ServicesDep,
                  status: Annotated[Status, Form()]) -> RedirectResponse:
    found = set_status(services.db(), reference, status)
    return _back(found.reference, status)


@router.post("/{reference}/retry")
def retry(reference: str, admin: AgentFormDep, services: ServicesDep) -> RedirectResponse:
    """Queue this ticket's failed deliveries again (after fixing the SMTP server or the webhook receiver)."""
    db = services.db()
    found = get_ticket(db, reference)
    failed = [d.id for d in ticket_deliveries(db, found.id) if d.status == "failed"]
    if failed:
        with db.conn:
            retry_failed(db, failed)
        if services.outbox is not None:
            services.outbox.wake()
    return _back(found.reference, "retry", "deliveries")
