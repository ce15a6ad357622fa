/**
 * A loopback stand-in for kube-proxy in front of a Service without a selector: every new TCP
 * connection goes to the address and port the Service's Endpoints name at that moment (read from
 * the API server every {@link POLL_MS}), and stays there for its life (conntrack). With no address
 * the connection is refused, as a Service with no endpoints rejects it. What Patroni writes into
 * the `postgres` Endpoints is therefore exactly where clients land.
 *
 *   const proxy = await startEndpointsProxy(client, "platform", "postgres");
 *   proxy.target();                    // "192.0.2.2:41234", or undefined without a primary
 *   afterAll(() => proxy.close());
 */
import { createConnection, createServer, type Socket } from "node:net";
import type { KubeClient } from "./kube-client";

const POLL_MS = 100;

export interface EndpointsProxy {
  host: string;
  port: number;
  /** `ip:port` new connections go to now, or undefined when the Endpoints name none. */
  target(): string | undefined;
  /** Connections refused because the Endpoints named no address. */
  refused(): number;
  close(): Promise<void>;
}

interface EndpointsBody {
  subsets?: { addresses?: { ip: string }[]; ports?: { port: number }[] }[];
}

/** The first ready address and port of the Endpoints, or undefined. */
function addressOf(body: EndpointsBody): { host: string; port: number } | undefined {
  const subset = body.subsets?.find((s) => (s.addresses ?? []).length > 0);
  const ip = subset?.addresses?.[0]?.ip;
  const port = subset?.ports?.[0]?.port;
  return ip !== undefined && port !== undefined ? { host: ip, port } : undefined;
}

export async function startEndpointsProxy(
  client: KubeClient,
  namespace: string,
  service: string,
): Promise<EndpointsProxy> {
  const path = `/api/v1/namespaces/${namespace}/endpoints/${service}`;
  let current: { host: string; port: number } | undefined;
  let refused = 0;
  let closed = false;
  const sockets = new Set<Socket>();
  const poll = async () => {
    while (!closed) {
      const response = await client.request("GET", path).catch(() => undefined);
      if (response)
        current = response.status === 200 ? addressOf(response.body as EndpointsBody) : undefined;
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  };
  const polling = poll();
  const server = createServer((downstream) => {
    sockets.add(downstream);
    downstream.once("close", () => sockets.delete(downstream));
    const to = current;
    if (to === undefined) {
      refused++;
      downstream.destroy();
      return;
    }
    const upstream = createConnection(to);
    sockets.add(upstream);
    upstream.once("close", () => sockets.delete(upstream));
    const end = () => {
      downstream.destroy();
      upstream.destroy();
    };
    downstream.on("error", end).on("close", end);
    upstream.on("error", end).on("close", end);
    downstream.pipe(upstream);
    upstream.pipe(downstream);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("no TCP address");
  return {
    host: "127.0.0.1",
    port: address.port,
    target: () => (current ? `${current.host}:${current.port}` : undefined),
    refused: () => refused,
    close: async () => {
      closed = true;
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await polling;
    },
  };
}
