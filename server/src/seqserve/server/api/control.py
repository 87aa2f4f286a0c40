"""The seqserve.v1.ModelControl servicer: load, unload and list model versions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeAlias

import grpc

from seqserve.server.api.status import unary
from seqserve.server.repository.control import ModelControl
from seqserve.server.repository.registry import VersionRow
from seqserve.v1 import seqserve_pb2 as pb
from seqserve.v1 import seqserve_pb2_grpc as pb_grpc

Context: TypeAlias = grpc.aio.ServicerContext

STATES = {
    "READY": pb.VERSION_STATE_READY,
    "LOADING": pb.VERSION_STATE_LOADING,
    "UNLOADING": pb.VERSION_STATE_UNLOADING,
    "UNAVAILABLE": pb.VERSION_STATE_UNAVAILABLE,
}


def response(rows: Sequence[VersionRow]) -> pb.ModelControlResponse:
    return pb.ModelControlResponse(
        versions=[
            pb.VersionStatus(
                model=row.model, version=row.version, state=STATES[row.state], reason=row.reason
            )
            for row in rows
        ]
    )


class ModelControlServicer(pb_grpc.ModelControlServicer):  # type: ignore[misc]
    def __init__(self, control: ModelControl) -> None:
        self._control = control

    @unary
    async def Load(
        self, request: pb.ModelControlRequest, context: Context
    ) -> pb.ModelControlResponse:
        return response(await self._control.load(request.model, request.version))

    @unary
    async def Unload(
        self, request: pb.ModelControlRequest, context: Context
    ) -> pb.ModelControlResponse:
        return response(await self._control.unload(request.model, request.version))

    @unary
    async def Index(self, request: pb.IndexRequest, context: Context) -> pb.ModelControlResponse:
        return response(await self._control.index())
