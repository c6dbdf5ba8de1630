/**
 * @module bench/lib/floor-main
 * Child-process entry: the HTTP floor. A bare fastify app with the same infer route and the
 * same body handling as Berth (body read as a Buffer, not parsed) that answers every POST
 * with a pre-built response of the same bytes the real model returns. What it costs is the
 * HTTP part of a request and nothing else: no JSON decode, validation, batching, worker
 * hop, inference, encoding or metrics.
 *
 * Usage: node --import tsx bench/lib/floor-main.ts <response-body-file> <content-type> [<inference-header-content-length>]
 */
import { readFileSync } from 'node:fs';
import Fastify from 'fastify';

const [file, contentType, headerLength] = process.argv.slice(2);
if (file === undefined || contentType === undefined) {
  process.stderr.write('usage: floor-main.ts <response-body-file> <content-type> [<inference-header-content-length>]\n');
  process.exit(2);
}
// JSON as a string, as Berth sends it; binary responses as a Buffer.
const bytes = readFileSync(file);
const response: string | Buffer = contentType.startsWith('application/json') ? bytes.toString('utf8') : bytes;

const app = Fastify({ logger: false });
app.removeAllContentTypeParsers();
app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
app.post('/v2/models/:model/infer', async (_req, reply) => {
  if (headerLength !== undefined) reply.header('Inference-Header-Content-Length', headerLength);
  return reply.type(contentType).send(response);
});

const url = await app.listen({ host: '127.0.0.1', port: 0 });
process.stdout.write(`LISTENING ${url}\n`);

let stopping = false;
function stop(): void {
  if (stopping) return;
  stopping = true;
  app.close().then(() => process.exit(0), () => process.exit(1));
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdin.on('end', stop);
process.stdin.resume();
