"""Drills on the town as registered (coordinators only): ask for one, follow it, open its report, download contacts.

``POST /drills`` queues a durable job (one drill at a time; a few an hour per coordinator) and answers 202;
``GET /drills/{id}`` until it is ``done`` or ``failed``. The report opens in the browser through a short-lived link
(``POST /drills/{id}/report-link``): a signed, 15-minute URL good for that report only, since a browser tab cannot
send the bearer token the pages keep. Every read of a report or a contact list is audited.
"""

from __future__ import annotations

import io
import zipfile
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status
from pydantic import BaseModel

from api import audit, drills, listing, models
from api.crud import commit
from api.deps import Ctx, IdPath, Limit, Offset, ServicesDep, SessionDep
from api.errors import NotFound, Unauthorized
from api.responses import errors

router = APIRouter(prefix="/drills", tags=["drills"])

LINK_MINUTES = 15
#: The report page is our own generated HTML with inline styles and inlined images, and nothing else.
REPORT_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; "
                               "form-action 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
FileName = Annotated[str, Path(pattern=r"^(report\.json|report\.md|contacts/(drivers|households)\.csv)$")]


class ReportLink(BaseModel):
    url: str
    expires_in_minutes: int


@router.post("", response_model=drills.DrillPublic, status_code=status.HTTP_202_ACCEPTED,
             responses=errors(400, 401, 403, 409, 429))
def request_drill(ctx: Ctx, services: ServicesDep, data: drills.DrillCreate, response: Response) -> object:
    """Queue a drill on the town as registered with the alert's flood zones and closures; poll ``GET /drills/{id}``."""
    drill = drills.request_drill(ctx, data)
    services.wake_drills()
    response.headers["Location"] = f"/drills/{drill.id}"
    return drill


@router.get("", response_model=list[drills.DrillPublic], responses={**listing.TOTAL_DOC, **errors(401, 403)})
def list_drills(ctx: Ctx, response: Response, offset: Offset = 0, limit: Limit = 100) -> object:
    """The drills, newest first."""
    return listing.answer(response, listing.page(ctx.session, drills.drills_query(ctx), offset, limit))


@router.get("/{drill_id}", response_model=drills.DrillPublic, responses=errors(401, 403, 404))
def get_drill(ctx: Ctx, drill_id: IdPath) -> object:
    return drills.get_drill(ctx, drill_id)


@router.get("/{drill_id}/files/{name:path}", response_class=Response, responses={
    200: {"content": {"text/csv": {}, "application/json": {}, "text/markdown": {}}}, **errors(401, 403, 404)})
def report_file(ctx: Ctx, drill_id: IdPath, name: FileName) -> Response:
    """A file of the drill's report: ``report.json``, ``report.md``, ``contacts/drivers.csv`` or
    ``contacts/households.csv`` (names and phones: audited)."""
    content = drills.report_file(ctx, drill_id, name)
    kind = {"json": "application/json", "md": "text/markdown; charset=utf-8"}.get(name.rsplit(".", 1)[1],
                                                                                   "text/csv; charset=utf-8")
    filename = f"drill-{drill_id}-{name.replace('/', '-')}"
    return Response(content, media_type=kind, headers={"Content-Disposition": f'attachment; filename="{filename}"',
                                                       "Cache-Control": "no-store"})


@router.post("/{drill_id}/report-link", response_model=ReportLink, responses=errors(401, 403, 404))
def report_link(ctx: Ctx, services: ServicesDep, drill_id: IdPath) -> ReportLink:
    """A link that opens the drill's HTML report in a browser tab for 15 minutes (for this coordinator)."""
    drill = drills.get_drill(ctx, drill_id)
    if drill.report_zip is None:
        raise NotFound(f"drill {drill_id} report (it is {drill.status})", "report.html")
    key = services.tokens.issue_scoped(ctx.user.id, f"drill-report:{drill_id}", LINK_MINUTES)
    return ReportLink(url=f"/drills/{drill_id}/report?key={key}", expires_in_minutes=LINK_MINUTES)


@router.get("/{drill_id}/report", response_class=Response,
            responses={200: {"content": {"text/html": {}}}, **errors(401, 404)})
def report_page(services: ServicesDep, session: SessionDep, drill_id: IdPath,
                key: Annotated[str, Query(max_length=2000)]) -> Response:
    """The drill's HTML report (plots inlined), opened with the key of ``POST /drills/{id}/report-link``."""
    user_id = services.tokens.scoped_user_id(key, f"drill-report:{drill_id}")
    user = None if user_id is None else session.get(models.User, user_id)
    if user is None or not user.is_active or user.role != "coordinator":
        raise Unauthorized("the report link is invalid or has expired: open the report again from the Drills page")
    drill = session.get(models.DrillRun, drill_id)
    if drill is None or drill.report_zip is None:
        raise NotFound("drill report", drill_id)
    with zipfile.ZipFile(io.BytesIO(drill.report_zip)) as z:
        html = z.read("report.html")
    audit.record(session, user, "read", "drill", drill.id, file="report.html")
    commit(session, "drill", drill.id)
    return Response(html, media_type="text/html; charset=utf-8", headers=REPORT_HEADERS)
