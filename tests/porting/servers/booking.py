"""Elicitation with a pydantic model, as in the official SDK's README: the tool asks the user for an
alternative date and acts on the answer (accepted, declined, cancelled).

Run: ``PORTING_TARGET=sdk python tests/porting/servers/booking.py`` (the official SDK) or ``PORTING_TARGET=trio``.
"""

import os

from pydantic import BaseModel, Field

if os.environ.get("PORTING_TARGET", "sdk") == "sdk":
    from mcp.server.mcpserver import Context, MCPServer
else:  # the port: these imports are all that change
    from mcp_trio import Context
    from mcp_trio import Server as MCPServer


class BookingPreferences(BaseModel):
    """Schema for collecting user preferences."""

    checkAlternative: bool = Field(description="Would you like to check another date?")  # noqa: N815
    alternativeDate: str = Field(default="2024-12-26", description="Alternative date (YYYY-MM-DD)")  # noqa: N815
    notes: str | None = Field(default=None, description="Anything the restaurant should know")


mcp = MCPServer("booking")


@mcp.tool()
async def book_table(date: str, time: str, party_size: int, ctx: Context) -> str:
    """Book a table with date availability check."""
    if date == "2024-12-25":
        result = await ctx.elicit(
            message=f"No tables available for {party_size} on {date}. Would you like to try another date?",
            schema=BookingPreferences,
        )
        if result.action == "accept" and result.data:
            if result.data.checkAlternative:
                return f"[SUCCESS] Booked for {result.data.alternativeDate} at {time} ({result.data.notes or '-'})"
            return "[CANCELLED] No booking made"
        return f"[CANCELLED] Booking cancelled ({result.action})"
    return f"[SUCCESS] Booked for {date} at {time}"


if __name__ == "__main__":
    mcp.run()
