#!/usr/bin/env node
// A pgvector-speaking PostgreSQL for the tests: PGlite (PostgreSQL 18 compiled
// to WebAssembly) with the pgvector extension, served over the PostgreSQL wire
// protocol by pglite-socket. Debian 12 packages no pgvector. Started and
// stopped by scripts/pglite.
//
//   node server.mjs [options] [DATA_DIR]
//     DATA_DIR                 keep the database in this folder (default: in memory)
//     --host=H                 address to listen on (default 127.0.0.1)
//     --port=N                 port to listen on; 0 picks a free one (default 0)
//     --port-file=FILE         write the port there once listening (atomically)
//     --max-connections=N      simultaneous client connections (default 64);
//                              one more is closed at once ("server closed the
//                              connection unexpectedly")
//     --debug                  log every connection and queued message
//
// It prints "listening on HOST:PORT" once clients can connect, and serves
// until SIGTERM or SIGINT. No TLS (sslmode=disable), no authentication; the
// user, database and options a client asks for are ignored: every client gets
// database "postgres" as user "postgres".
//
// PGlite is ONE backend, one session. pglite-socket multiplexes the clients
// onto it, one query at a time, and holds the others back (new connections
// included) while one of them is inside a transaction block. So, unlike a real
// server: session state is shared by all clients (SET, PREPARE and named
// prepared statements, temporary tables, advisory locks, LISTEN); a NOTIFY
// reaches only the client that sent it; a CancelRequest is ignored; and
// COPY ... FROM STDIN kills the backend (this server then exits).
import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';
import { PGLiteSocketHandler, PGLiteSocketServer } from '@electric-sql/pglite-socket';
import { renameSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values: opts, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '0' },
    'port-file': { type: 'string' },
    'max-connections': { type: 'string', default: '64' },
    debug: { type: 'boolean', default: false },
  },
});
if (positionals.length > 1) {
  console.error('usage: server.mjs [--host=H] [--port=N] [--port-file=FILE] [--max-connections=N] [--debug] [DATA_DIR]');
  process.exit(2);
}
const port = Number.parseInt(opts.port, 10);
const maxConnections = Number.parseInt(opts['max-connections'], 10);
if (!(port >= 0 && port < 65536) || !(maxConnections >= 1)) {
  console.error('server.mjs: bad --port or --max-connections');
  process.exit(2);
}

const started = Date.now();
const db = await PGlite.create({
  dataDir: positionals[0], // undefined: in memory
  extensions: { vector },
  // A test database: don't wait for the file system after each query
  // (close() on SIGTERM still writes everything out).
  relaxedDurability: true,
});
await db.exec('CREATE EXTENSION IF NOT EXISTS vector');

// pglite-socket runs its clients' messages on the one backend one at a time,
// from a shared queue, and keeps to one client only while the backend is in a
// transaction block (it asks db.isInTransaction()). An extended-protocol query
// is several messages (Parse, Bind, Describe, Execute, ... up to Sync): when
// they reach the server in more than one TCP read (a parameter of some 64 KiB
// or more is enough), another client's Parse can slip in between and this
// client's Bind then runs the other one's unnamed statement. Keep to the
// client, too, from its first message of such a sequence until its Sync.
let inSequence = false;
const inTransactionBlock = db.isInTransaction.bind(db);
db.isInTransaction = () => inSequence || inTransactionBlock();

// When the WebAssembly backend itself dies (a FATAL error, e.g. COPY FROM
// STDIN, exits it), the socket server's queue stays blocked forever and every
// client hangs: exit instead, so that clients fail at once.
const execRaw = db.execProtocolRawStream.bind(db);
db.execProtocolRawStream = async (message, options) => {
  try {
    await execRaw(message, options);
  } catch (e) {
    console.error('pglite: the backend died, exiting:', e?.message ?? e);
    process.exit(70);
  }
  // Parse, Bind, Describe, Execute, Close, Flush: a sequence that Sync ends.
  // (A startup message has no type byte: its first byte is 0.)
  inSequence = 'PBDECH'.includes(String.fromCharCode(message[0]));
};

// pglite-socket reads a CancelRequest, ignores it and leaves the connection
// open, and libpq's PQcancel() waits for the server to close it: forever.
// Close it (the query is not cancelled; PGlite cannot interrupt one).
const handleCancelRequest = PGLiteSocketHandler.prototype.handleCancelRequest;
PGLiteSocketHandler.prototype.handleCancelRequest = function (...args) {
  const handled = handleCancelRequest.apply(this, args);
  if (handled) setImmediate(() => this.detach(true));
  return handled;
};

const server = new PGLiteSocketServer({
  db,
  host: opts.host,
  port,
  maxConnections,
  debug: opts.debug,
});
server.addEventListener('error', (e) => console.error('pglite: socket error:', e.detail));
await server.start();
const conn = server.getServerConn(); // "host:port", with the port picked when 0
const boundPort = conn.slice(conn.lastIndexOf(':') + 1);
if (opts['port-file']) {
  const tmp = `${opts['port-file']}.tmp`;
  writeFileSync(tmp, `${boundPort}\n`);
  renameSync(tmp, opts['port-file']);
}
console.log(`listening on ${conn} (ready in ${Date.now() - started} ms, pid ${process.pid})`);

let stopping = false;
async function shutdown(signal) {
  if (stopping) return;
  stopping = true;
  console.log(`${signal}: stopping`);
  // Clients still connected would hold close() up: give it a moment, then go.
  const force = setTimeout(() => process.exit(0), 3000);
  force.unref();
  try {
    await server.stop();
    await db.close();
  } catch (e) {
    console.error('pglite: error while stopping:', e);
  }
  process.exit(0);
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
