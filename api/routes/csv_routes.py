"""``GET /<roster>/export`` and ``POST /<roster>/import`` for a roster router (declared before ``/{id}``)."""

from __future__ import annotations

from fastapi import APIRouter, Response, UploadFile

from api import csvio, schemas
from api.deps import Ctx, ServicesDep
from api.errors import ServiceError
from api.responses import errors


class TooLarge(ServiceError):
    status = 413


def add_csv_routes(router: APIRouter, kind: str) -> None:
    """Register the roster's CSV export and import on ``router``."""

    def export(ctx: Ctx) -> Response:
        body = csvio.export_csv(ctx, kind)
        return Response(body, media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{kind}.csv"'})

    def import_(ctx: Ctx, services: ServicesDep, file: UploadFile) -> schemas.ImportResult:
        limit = services.settings.csv_max_bytes
        content = file.file.read(limit + 1)
        if len(content) > limit:
            raise TooLarge(f"file: larger than {limit} bytes; split it")
        return csvio.import_csv(ctx, kind, content)

    router.add_api_route("/export", export, methods=["GET"], name=f"export_{kind}", response_class=Response,
                         summary=f"Export the {kind} you may see as CSV",
                         responses={200: {"content": {"text/csv": {}}}, **errors(401, 403)})
    router.add_api_route("/import", import_, methods=["POST"], name=f"import_{kind}",
                         response_model=schemas.ImportResult, responses=errors(400, 401, 403, 409, 413),
                         summary=f"Import {kind} from CSV: all rows land, or none and every bad row is reported")
