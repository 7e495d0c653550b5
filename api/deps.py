from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Path, Request
from sqlmodel.ext.asyncio.session import AsyncSession

from api.schemas import UserId
from common.errors import Forbidden, Unauthorized


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    # Only yields and closes: services commit explicitly (teardown runs after the response is sent).
    async with request.app.state.sessions() as session:
        yield session


async def current_user(request: Request, user_id: Annotated[UserId, Path()]) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized()
    claims = await request.app.state.verifier.verify(token.strip())
    if claims["sub"] != user_id:
        raise Forbidden("The token does not belong to this user.")
    return user_id


SessionDep = Annotated[AsyncSession, Depends(get_session)]
CurrentUser = Annotated[str, Depends(current_user)]
