"""Prompts and completions as an SDK user writes them: prompts with required and optional arguments returning a
string or a conversation, and one ``@completion()`` handler for prompt arguments and template variables.

Run: ``PORTING_TARGET=sdk python tests/porting/servers/recipes.py`` (the official SDK) or ``PORTING_TARGET=trio``.
"""

import os

from pydantic import Field

if os.environ.get("PORTING_TARGET", "sdk") == "sdk":
    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.prompts.base import AssistantMessage, Message, UserMessage
    from mcp.types import Completion, CompletionArgument, CompletionContext, PromptReference, ResourceTemplateReference
else:  # the port: these imports are all that change
    from mcp_trio import Server as MCPServer
    from mcp_trio.protocol.types import (
        Completion,
        CompletionArgument,
        CompletionContext,
        PromptReference,
        ResourceTemplateReference,
    )
    from mcp_trio.server.prompts import AssistantMessage, Message, UserMessage

mcp = MCPServer("recipes")

DISHES = {"italian": ["carbonara", "cacio e pepe", "caponata"], "nordic": ["fiskesuppe", "kanelbulle", "lapskaus"]}


@mcp.resource("recipes://{cuisine}/{dish}")
def recipe(cuisine: str, dish: str) -> str:
    """A recipe."""
    return f"{dish} ({cuisine}): cook it well."


@mcp.prompt(title="Plan a meal")
def plan_meal(cuisine: str, guests: str = "2") -> str:
    """Plan a dinner."""
    return f"Plan a {cuisine} dinner for {guests} guests."


@mcp.prompt()
def critique(
    dish: str = Field(description="The dish to critique"),
    tone: str = Field(default="kind", description="How blunt to be"),
) -> list[Message]:
    """A short conversation about a dish."""
    return [
        UserMessage(f"Critique my {dish}, in a {tone} tone."),
        AssistantMessage("Tell me how you cooked it."),
        UserMessage("Slowly, with love."),
    ]


@mcp.completion()
async def complete(
    ref: PromptReference | ResourceTemplateReference,
    argument: CompletionArgument,
    context: CompletionContext | None,
) -> Completion | None:
    if isinstance(ref, ResourceTemplateReference) and argument.name == "dish":
        cuisine = (context.arguments or {}).get("cuisine", "") if context else ""
        dishes = DISHES.get(cuisine, [])
        return Completion(values=[d for d in dishes if d.startswith(argument.value)], total=len(dishes), has_more=False)
    if argument.name == "cuisine":
        return Completion(values=[c for c in DISHES if c.startswith(argument.value)])
    return None


if __name__ == "__main__":
    mcp.run()
