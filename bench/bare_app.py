"""The baseline: a bare FastAPI endpoint answering a fixed small XML body, nothing else."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response

BODY = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b'<DescribeKeyPairsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">'
    b"<requestId>00000000-0000-0000-0000-000000000000</requestId><keySet/>"
    b"</DescribeKeyPairsResponse>"
)

app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)


@app.post("/")
async def root(request: Request) -> Response:
    await request.body()
    return Response(BODY, media_type="text/xml;charset=UTF-8")
