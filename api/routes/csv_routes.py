"""``GET /<roster>/export`` and ``POST /<roster>/import`` for a roster router (declared before ``/{id}``)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Response, UploadFile
from starlette.concurrency import run_in_threadpool

from api import csvio, schemas
from api.deps import Ctx, ServicesDep, TokenDep
from api.errors import ServiceError
from api.geocode import LocalGeocoder, PresolvedGeocoder, presolve
from api.responses import errors


class TooLarge(ServiceError):
    status = 413


@dataclass(frozen=True)
class Upload:
    """An import's file, read and size-checked, with its addresses already geocoded when the geocoder is online."""

    content: bytes
    geocoder: PresolvedGeocoder | None


def add_csv_routes(router: APIRouter, kind: str) -> None:
    """Register the roster's CSV export and import on ``router``."""

    async def upload(services: ServicesDep, token: TokenDep, file: UploadFile) -> Upload:
        # Listed before ``Ctx`` in the route, so it runs before a database slot is taken: an online geocoder that
        # hangs (each look-up bounded by its timeout, at most ``geocode_max_per_request``) holds no slot. Only a
        # signed token gets the service to call the geocoder; the route's own sign-in check still decides.
        limit = services.settings.csv_max_bytes
        content = await file.read(limit + 1)
        if len(content) > limit:
            raise TooLarge(f"file: larger than {limit} bytes; split it")
        if isinstance(services.geocoder, LocalGeocoder) or services.tokens.claims(token) is None:
            return Upload(content, None)  # the map's own index answers in microseconds
        addresses = csvio.addresses_to_locate(content, kind)
        cap = services.settings.geocode_max_per_request
        return Upload(content, await run_in_threadpool(presolve, services.geocoder, addresses, cap))

    def export(ctx: Ctx) -> Response:
        body = csvio.export_csv(ctx, kind)
        return Response(body, media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{kind}.csv"'})

    def import_(file: Upload, ctx: Ctx) -> schemas.ImportResult:
        if file.geocoder is not None:
            ctx = dataclasses.replace(ctx, geocoder=file.geocoder)
        return csvio.import_csv(ctx, kind, file.content)

    # The dependency is this function's own ``upload`` (a closure), which string annotations cannot name.
    import_.__annotations__["file"] = Annotated[Upload, Depends(upload)]

    router.add_api_route("/export", export, methods=["GET"], name=f"export_{kind}", response_class=Response,
                         summary=f"Export the {kind} you may see as CSV",
                         responses={200: {"content": {"text/csv": {}}}, **errors(401, 403)})
    router.add_api_route("/import", import_, methods=["POST"], name=f"import_{kind}",
                         response_model=schemas.ImportResult, responses=errors(400, 401, 403, 409, 413),
                         summary=f"Import {kind} from CSV: all rows land, or none and every bad row is reported")
