import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';

/**
 * A loopback TCP proxy whose connections a test can cut at will: the way to drop a client's connection
 * mid-stream without stopping a broker that other tests share.
 */
export class TcpDropProxy {
  readonly #server: Server;
  readonly #pairs = new Set<[Socket, Socket]>();
  #swallowReplies = false;
  #swallowed = 0;
  #closed = false;

  private constructor(server: Server) {
    this.#server = server;
  }

  static async start(targetHost: string, targetPort: number): Promise<TcpDropProxy> {
    const server = createServer();
    const proxy = new TcpDropProxy(server);
    server.on('connection', (client) => proxy.#pipe(client, targetHost, targetPort));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return proxy;
  }

  get port(): number {
    const address = this.#server.address();
    if (address === null || typeof address === 'string') throw new Error('proxy is not listening');
    return address.port;
  }

  /** Connections open right now. */
  get connections(): number {
    return this.#pairs.size;
  }

  /**
   * While on, bytes from the server are read and thrown away instead of forwarded: replies the server sent
   * (and, for a broker, counts as delivered) never reach the client, as when a connection dies mid-reply.
   */
  swallowReplies(on: boolean): void {
    this.#swallowReplies = on;
  }

  /** Server bytes thrown away so far. */
  get swallowedBytes(): number {
    return this.#swallowed;
  }

  /** Destroys every open connection (both sides); returns how many. New connections are still accepted. */
  dropAll(): number {
    const n = this.#pairs.size;
    for (const [a, b] of this.#pairs) {
      a.destroy();
      b.destroy();
    }
    this.#pairs.clear();
    return n;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.dropAll();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #pipe(client: Socket, host: string, port: number): void {
    const upstream = tcpConnect(port, host);
    const pair: [Socket, Socket] = [client, upstream];
    this.#pairs.add(pair);
    const end = () => {
      client.destroy();
      upstream.destroy();
      this.#pairs.delete(pair);
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    client.pipe(upstream);
    upstream.on('data', (chunk: Buffer) => {
      if (this.#swallowReplies) this.#swallowed += chunk.length;
      else if (!client.write(chunk)) {
        upstream.pause();
        client.once('drain', () => upstream.resume());
      }
    });
  }
}
