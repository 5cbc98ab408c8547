"""Request dependencies as ``Annotated`` aliases. They only read ``app.state``, so they are ``async``
(no trip through the thread pool); handlers open their thread's database with ``services.db()``."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from kb.settings import Settings
from search.searcher import Searcher
from web.services import Engine, Services


async def get_services(request: Request) -> Services:
    return request.app.state.services  # type: ignore[no-any-return]


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


async def get_engine(request: Request) -> Engine:
    # Taken once per request: a re-index that swaps the engine mid-request does not mix two indexes.
    return request.app.state.services.current()  # type: ignore[no-any-return]


async def get_searcher(request: Request) -> Searcher:
    return request.app.state.services.current().searcher  # type: ignore[no-any-return]


async def get_session_id(request: Request) -> str:
    return request.state.session_id  # type: ignore[no-any-return]


ServicesDep = Annotated[Services, Depends(get_services)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
EngineDep = Annotated[Engine, Depends(get_engine)]
SearcherDep = Annotated[Searcher, Depends(get_searcher)]
SessionDep = Annotated[str, Depends(get_session_id)]
