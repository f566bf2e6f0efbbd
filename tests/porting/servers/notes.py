"""Resources as an SDK user writes them: static ones (text, JSON, bytes) and templates (``greeting://{name}``,
an ``int`` variable), and a tool that reads a resource through the context.

Run: ``PORTING_TARGET=sdk python tests/porting/servers/notes.py`` (the official SDK) or ``PORTING_TARGET=trio``.
"""

import json
import os

if os.environ.get("PORTING_TARGET", "sdk") == "sdk":
    from mcp.server.mcpserver import Context, MCPServer
else:  # the port: these imports are all that change
    from mcp_trio import Context
    from mcp_trio import Server as MCPServer

mcp = MCPServer("notes")

NOTES = {1: "buy milk", 2: "call Ada"}


@mcp.resource("notes://index")
def index() -> str:
    """Every note, one a line."""
    return "\n".join(f"{number}: {text}" for number, text in NOTES.items())


@mcp.resource("config://app", mime_type="application/json", title="Configuration")
def app_config() -> str:
    """The application's configuration."""
    return json.dumps({"theme": "dark", "autosave": True})


@mcp.resource("config://limits")
def limits() -> dict[str, int]:
    """Limits, as data the SDK serialises to JSON."""
    return {"max_notes": 100, "max_length": 280}


@mcp.resource("files://logo", mime_type="image/png")
def logo() -> bytes:
    """A tiny binary resource."""
    return b"\x89PNG\r\n\x1a\n"


@mcp.resource("greeting://{name}")
def get_greeting(name: str) -> str:
    """Get a personalised greeting."""
    return f"Hello, {name}!"


@mcp.resource("notes://{note_id}/text", mime_type="text/markdown")
def note_text(note_id: int) -> str:
    """One note's text."""
    return f"# Note {note_id}\n\n{NOTES.get(note_id, '(deleted)')}"


@mcp.tool()
async def greet_twice(name: str, ctx: Context) -> str:
    """Read the greeting resource from inside a tool."""
    contents = await ctx.read_resource(f"greeting://{name}")
    text = next(iter(contents)).content
    return f"{text} {text}"


if __name__ == "__main__":
    mcp.run()
