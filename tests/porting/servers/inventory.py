"""A lifespan whose value the handlers reach, and a tool that logs and reports progress, as an SDK user writes
them (``ctx.request_context.lifespan_context``, ``ctx.info``, ``ctx.report_progress``).

Run: ``PORTING_TARGET=sdk python tests/porting/servers/inventory.py`` (the official SDK) or ``PORTING_TARGET=trio``.
"""

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

if os.environ.get("PORTING_TARGET", "sdk") == "sdk":
    from mcp.server.mcpserver import Context, MCPServer
else:  # the port: these imports are all that change
    from mcp_trio import Context
    from mcp_trio import Server as MCPServer


class Database:
    """Stands in for a connection pool opened at start and closed at shutdown."""

    def __init__(self) -> None:
        self.stock = {"apple": 3, "pear": 0}
        self.open = False

    @classmethod
    async def connect(cls) -> "Database":
        db = cls()
        db.open = True
        return db

    async def disconnect(self) -> None:
        self.open = False


@dataclass
class AppContext:
    db: Database


@asynccontextmanager
async def app_lifespan(server: MCPServer) -> AsyncIterator[AppContext]:
    db = await Database.connect()
    try:
        yield AppContext(db=db)
    finally:
        await db.disconnect()


mcp = MCPServer("inventory", lifespan=app_lifespan)


@mcp.tool()
def count(item: str, ctx: Context) -> int:
    """How many of an item are in stock."""
    db = ctx.request_context.lifespan_context.db
    return db.stock.get(item, 0) if db.open else -1


@mcp.tool()
async def restock(items: list[str], ctx: Context[AppContext]) -> str:
    """Restock items, reporting progress and logging each one."""
    db = ctx.request_context.lifespan_context.db
    await ctx.info(f"restocking {len(items)} items")
    for done, item in enumerate(items, start=1):
        db.stock[item] = db.stock.get(item, 0) + 10
        await ctx.debug(f"{item} now {db.stock[item]}", logger_name="inventory.audit")
        await ctx.report_progress(done, len(items), f"{item} restocked")
    await ctx.warning("stock levels changed")
    return ", ".join(f"{item}={db.stock[item]}" for item in items)


@mcp.resource("stock://{item}")
def stock_level(item: str, ctx: Context) -> str:
    """One item's stock, read through the lifespan's database."""
    return str(ctx.request_context.lifespan_context.db.stock.get(item, 0))


if __name__ == "__main__":
    mcp.run()
