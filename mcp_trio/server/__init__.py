"""The MCP server: registration API, dispatch, per-request context and the session driver."""

from __future__ import annotations

from mcp_trio.server.config import ServerConfig as ServerConfig
from mcp_trio.server.context import Context as Context
from mcp_trio.server.context import InputRequired as InputRequired
from mcp_trio.server.context import ModelElicitation as ModelElicitation
from mcp_trio.server.context import Peer as Peer
from mcp_trio.server.context import ReadResourceContents as ReadResourceContents
from mcp_trio.server.context import ResourceReadout as ResourceReadout
from mcp_trio.server.dispatch import Dispatcher as Dispatcher
from mcp_trio.server.driver import SessionDriver as SessionDriver
from mcp_trio.server.hub import NotificationHub as NotificationHub
from mcp_trio.server.hub import Subscriber as Subscriber
from mcp_trio.server.prompts import AssistantMessage as AssistantMessage
from mcp_trio.server.prompts import Message as Message
from mcp_trio.server.prompts import PromptDefinition as PromptDefinition
from mcp_trio.server.prompts import UserMessage as UserMessage
from mcp_trio.server.resources import ResourceDefinition as ResourceDefinition
from mcp_trio.server.resources import TemplateDefinition as TemplateDefinition
from mcp_trio.server.server import Server as Server
from mcp_trio.server.tasks import TaskManager as TaskManager
from mcp_trio.server.tools import ToolDefinition as ToolDefinition
from mcp_trio.server.tools import ToolError as ToolError

__all__ = [
    "Server",
    "ServerConfig",
    "Context",
    "ToolError",
    "InputRequired",
    "Peer",
    "SessionDriver",
    "Dispatcher",
    "NotificationHub",
    "Subscriber",
    "TaskManager",
    "ToolDefinition",
    "ResourceDefinition",
    "TemplateDefinition",
    "PromptDefinition",
    "Message",
    "UserMessage",
    "AssistantMessage",
    "ModelElicitation",
    "ResourceReadout",
    "ReadResourceContents",
]
