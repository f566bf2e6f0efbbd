// The official TypeScript SDK's WebSocketClientTransport against our WebSocket server (tests/transports/
// test_websocket.py copies it next to the SDK's node_modules in .bench/ts/): initialize, list tools, call echo,
// then print what it saw as one JSON line.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { WebSocketClientTransport } from "@modelcontextprotocol/sdk/client/websocket.js";

const client = new Client({ name: "ts-ws-interop", version: "1.0.0" });
await client.connect(new WebSocketClientTransport(new URL(process.argv[2])));
const tools = await client.listTools();
const echoed = await client.callTool({ name: "echo", arguments: { text: "hi from ts" } });
console.log(
  JSON.stringify({
    server: client.getServerVersion(),
    tools: tools.tools.map((tool) => tool.name),
    echo: echoed.content[0].text,
  }),
);
await client.close();
