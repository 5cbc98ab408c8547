"""Analytics for writers: searches, chat answers, handoffs, deflection and article helpfulness over a period."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from bot import analytics
from web.auth import AnalyticsDep
from web.deps import ServicesDep
from web.routes.admin import render_admin

router = APIRouter(prefix="/admin", include_in_schema=False)
Period = Literal["7", "30", "90"]


@router.get("/analytics", response_class=HTMLResponse)
def analytics_page(request: Request, admin: AnalyticsDep, services: ServicesDep, period: Period = "30") -> HTMLResponse:
    report = analytics.report(services.db(), int(period))
    peak = max([max(d.searches, d.questions) for d in report.daily] + [1])
    return render_admin(request, "admin/analytics.html", {"report": report, "period": period, "peak": peak})
