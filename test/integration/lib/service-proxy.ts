/**
 * A loopback stand-in for a ClusterIP Service as kube-proxy implements it: each new TCP connection
 * goes to one ready endpoint, round robin, and stays there for its life (conntrack); an endpoint
 * marked not ready gets no new connection, while those already open to it carry on. That is what
 * clients see while a pod is terminating: its endpoint leaves the Service, its sockets do not.
 *
 *   const service = await startServiceProxy([a.port, b.port]);
 *   service.setReady(a.port, false);   // the pod was deleted: its endpoint is not ready
 *   afterAll(() => service.close());
 */
import { createConnection, createServer, type Socket } from "node:net";

const HOST = "127.0.0.1";

export interface ServiceProxy {
  host: string;
  port: number;
  /** Marks an endpoint ready (new connections may go there) or not. */
  setReady(port: number, ready: boolean): void;
  /** Adds the endpoint of a pod started after the Service (a rollout's surge pod), ready. */
  addEndpoint(port: number): void;
  /** New connections handed to each endpoint so far, by port. */
  routed(): Record<number, number>;
  /** Connections refused because no endpoint was ready. */
  refused(): number;
  close(): Promise<void>;
}

/** Starts the proxy on a free loopback port, every endpoint ready. */
export function startServiceProxy(endpoints: number[]): Promise<ServiceProxy> {
  const ready = new Map(endpoints.map((port) => [port, true]));
  const routed: Record<number, number> = Object.fromEntries(endpoints.map((p) => [p, 0]));
  const sockets = new Set<Socket>();
  let next = 0;
  let refused = 0;
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  };

  const server = createServer((client) => {
    track(client);
    const candidates = endpoints.filter((port) => ready.get(port));
    if (candidates.length === 0) {
      refused++;
      client.destroy();
      return;
    }
    const port = candidates[next++ % candidates.length];
    routed[port]++;
    const upstream = createConnection({ host: HOST, port });
    track(upstream);
    // Either side closing or failing closes the other, as a TCP reset would reach the client.
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on("error", end).on("close", end);
    upstream.on("error", end).on("close", end);
    client.pipe(upstream);
    upstream.pipe(client);
  });

  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, HOST, () => {
      const address = server.address();
      if (address === null || typeof address === "string") throw new Error("no TCP address");
      resolve({
        host: HOST,
        port: address.port,
        setReady: (port, isReady) => {
          if (!ready.has(port)) throw new Error(`${port} is not an endpoint`);
          ready.set(port, isReady);
        },
        addEndpoint: (port) => {
          if (ready.has(port)) throw new Error(`${port} is an endpoint already`);
          endpoints.push(port);
          ready.set(port, true);
          routed[port] = 0;
        },
        routed: () => ({ ...routed }),
        refused: () => refused,
        close: () =>
          new Promise<void>((done) => {
            for (const socket of sockets) socket.destroy();
            server.close(() => done());
          }),
      });
    });
  });
}
