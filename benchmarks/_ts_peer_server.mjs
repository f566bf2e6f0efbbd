// The TypeScript SDK peer for benchmarks: an `echo` tool over stdio (copied into .bench/ts/ by _ts_peer.py,
// next to the node_modules it imports from).
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { z } from "zod";

const server = new McpServer({ name: "peer-ts", version: "1.0.0" });
server.registerTool(
  "echo",
  { description: "Return text unchanged.", inputSchema: { text: z.string() } },
  async ({ text }) => ({ content: [{ type: "text", text }] }),
);
await server.connect(new StdioServerTransport());
