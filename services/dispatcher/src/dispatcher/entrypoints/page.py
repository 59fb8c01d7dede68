"""The worker page: static HTML, JS and CSS from worker_page/, served at /worker/.

No build step and no third-party code, so the Content-Security-Policy can allow only this
origin: even an injected string could not load or run a script from anywhere else.
"""

from pathlib import Path

from fastapi import FastAPI
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

PAGE_DIR = Path(__file__).parent / "worker_page"
PATH = "/worker"

_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; connect-src 'self'; img-src 'self' data:; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    # The event stream's URL carries the token: it must not leak to other sites as a referrer.
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


class _PageFiles(StaticFiles):
    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers.update(_HEADERS)
        return response


def mount_worker_page(app: FastAPI) -> None:
    app.mount(PATH, _PageFiles(directory=PAGE_DIR, html=True), name="worker-page")
