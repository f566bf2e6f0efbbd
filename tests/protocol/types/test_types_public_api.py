"""The public surface of ``mcp_trio.protocol.types`` is pinned, and the package stays sans-IO."""

from __future__ import annotations

import subprocess
import sys

from mcp_trio.protocol import types

EXPECTED_ALL = [
    # _base
    "UNSET", "UnsetType", "WireModel", "RequestId", "ProgressToken", "Cursor", "Role", "CacheScope", "Meta",
    "RequestParams", "NotificationParams", "PaginatedParams", "Result", "EmptyResult", "CacheableResult",
    "TaskMetadata", "RelatedTaskMetadata",
    # common
    "Icon", "Annotations", "Implementation",
    # capabilities
    "ListChangedCapability", "ResourcesCapability", "SamplingCapability", "ElicitationCapability",
    "TasksCapability", "ClientCapabilities", "ServerCapabilities", "capability_enabled",
    # meta
    "PROGRESS_TOKEN", "PROTOCOL_VERSION", "CLIENT_CAPABILITIES", "CLIENT_INFO", "LOG_LEVEL", "SERVER_INFO",
    "SUBSCRIPTION_ID", "RELATED_TASK", "TRACEPARENT", "TRACESTATE", "BAGGAGE", "RESERVED_META_KEYS",
    "TASKS_EXTENSION", "RequestMeta", "NotificationMeta", "ResultMeta",
    # logging
    "LoggingLevel", "LOGGING_LEVELS", "LOGGING_SEVERITY", "should_log", "SetLevelParams", "LoggingMessageParams",
    # utilities
    "ProgressParams", "CancelledParams",
    # lifecycle
    "InitializeParams", "InitializeResult", "PingParams",
    # discover
    "DiscoverParams", "DiscoverResult",
    # content
    "TextContent", "ImageContent", "AudioContent", "ResourceLink", "EmbeddedResource", "ToolUseContent",
    "ToolResultContent", "ContentBlock", "SamplingContentBlock",
    # resources
    "Resource", "ResourceTemplate", "ResourceContents", "ListResourcesParams", "ListResourcesResult",
    "ListResourceTemplatesParams", "ListResourceTemplatesResult", "ReadResourceParams", "ReadResourceResult",
    "SubscribeParams", "UnsubscribeParams", "ResourceUpdatedParams",
    # tools
    "ToolAnnotations", "ToolExecution", "Tool", "ListToolsParams", "ListToolsResult", "CallToolParams",
    "CallToolResult",
    # prompts
    "PromptArgument", "Prompt", "PromptMessage", "ListPromptsParams", "ListPromptsResult", "GetPromptParams",
    "GetPromptResult",
    # completion
    "PromptReference", "ResourceTemplateReference", "CompletionArgument", "CompletionContext", "CompleteParams",
    "Completion", "CompleteResult",
    # sampling
    "ModelHint", "ModelPreferences", "ToolChoice", "SamplingMessage", "CreateMessageParams", "CreateMessageResult",
    # elicitation
    "EnumOption", "StringSchema", "NumberSchema", "IntegerSchema", "BooleanSchema", "EnumItems",
    "MultiSelectEnumSchema", "PrimitiveSchemaDefinition", "RequestedSchema", "ElicitRequestParams", "ElicitResult",
    "ElicitationCompleteParams",
    # roots
    "Root", "ListRootsParams", "ListRootsResult",
    # mrtr
    "CreateMessageRequest", "ElicitRequest", "ListRootsRequest", "InputRequest", "InputResponse",
    "InputRequiredResult", "decode_input_response", "encode_input_response",
    # tasks
    "TaskStatus", "TERMINAL_TASK_STATUSES", "Task", "CreateTaskResult", "LegacyCreateTaskResult", "GetTaskParams",
    "GetTaskResult", "GetTaskPayloadParams", "GetTaskPayloadResult", "ListTasksParams", "ListTasksResult",
    "CancelTaskParams", "CancelTaskResult", "UpdateTaskParams", "UpdateTaskResult", "TaskStatusParams",
    # subscriptions
    "SubscriptionFilter", "SubscriptionsListenParams", "SubscriptionsListenResult",
    "SubscriptionsAcknowledgedParams",
    # error_data
    "ErrorObject", "UnsupportedVersionData", "MissingCapabilityData", "UrlElicitationRequiredData",
    "ResourceNotFoundData",
    # methods
    "Era", "Direction", "MethodKind", "MethodSpec", "METHODS", "INPUT_REQUEST_METHODS", "methods_for_era",
    "params_decoder", "result_decoder", "peek_result_type",
]  # fmt: skip


def test_public_names_are_pinned() -> None:
    assert types.__all__ == EXPECTED_ALL


def test_every_public_name_resolves() -> None:
    missing = [name for name in types.__all__ if not hasattr(types, name)]
    assert missing == []


def _top_level_modules_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print('\\n'.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    return {name.split(".")[0] for name in out.split()}


def test_types_import_nothing_but_msgspec_and_the_standard_library() -> None:
    loaded = _top_level_modules_after("import mcp_trio.protocol.types")
    assert "trio" not in loaded
    allowed = _top_level_modules_after("import msgspec.json, msgspec.inspect") | {"mcp_trio"}
    foreign = {name for name in loaded if name not in sys.stdlib_module_names and not name.startswith("_")}
    assert foreign <= allowed
