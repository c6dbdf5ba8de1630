/**
 * @module security/tls
 * HTTPS from a PEM certificate and key (server.tls, --tls-cert/--tls-key): both files read
 * and checked to belong together at start-up, so a wrong pair stops the server with a
 * message naming the setting instead of failing every handshake later.
 */
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { BerthError, messageOf } from '../errors.js';

export interface TlsFiles {
  cert?: string | undefined;
  key?: string | undefined;
}

/** The https options for fastify, or undefined when TLS is not configured. */
export function readTls(files: Readonly<TlsFiles>): { cert: Buffer; key: Buffer } | undefined {
  if (files.cert === undefined && files.key === undefined) return undefined;
  if (files.cert === undefined || files.key === undefined) {
    const missing = files.cert === undefined ? 'server.tls.cert (--tls-cert)' : 'server.tls.key (--tls-key)';
    throw new BerthError('BERTH_ERR_TLS', `TLS needs both a certificate and its key: ${missing} is missing`);
  }
  const read = (file: string, what: string): Buffer => {
    try {
      return readFileSync(file);
    } catch (err) {
      throw new BerthError('BERTH_ERR_TLS', `${what} ${file}: cannot read: ${messageOf(err)}`);
    }
  };
  const cert = read(files.cert, 'server.tls.cert (--tls-cert)');
  const key = read(files.key, 'server.tls.key (--tls-key)');
  try {
    createSecureContext({ cert, key });
  } catch (err) {
    throw new BerthError('BERTH_ERR_TLS', `server.tls: the certificate ${files.cert} and key ${files.key} are not a valid PEM pair: ${messageOf(err)}`);
  }
  return { cert, key };
}
