import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Listens on host:port (0 = a free port) and resolves with the port actually bound. */
export function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => {
      server.off('listening', onListening);
      reject(err);
    };
    const onListening = (): void => {
      server.off('error', onError);
      resolve((server.address() as AddressInfo).port);
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, host);
  });
}

/** Closes the server and every socket it holds; resolves once all are gone. */
export function close(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.close((err?: Error) => {
      // A server that never listened (its listen failed) has nothing left to close.
      if (err && (err as NodeJS.ErrnoException).code !== 'ERR_SERVER_NOT_RUNNING') reject(err);
      else resolve();
    });
    // close() only waits for keep-alive and in-flight sockets: cut them so stop() is prompt.
    server.closeAllConnections();
  });
}

/** The URL a client uses to reach a server bound to host (wildcard hosts map to loopback). */
export function endpointUrl(host: string, port: number): string {
  return `http://${urlHost(host)}:${port}`;
}

/** host as it appears in a URL: loopback for wildcard binds, brackets around IPv6. */
export function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}
