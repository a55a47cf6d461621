// pg-boss 12's driver for bench/run.py (Node 22; pg-boss from bench/.pgboss, see bench/setup).
//
//   node pgboss.mjs ACTION URL NOTIFY [ARGS]
//
// NOTIFY is 1 for the LISTEN/NOTIFY variant: the instance listens (useListenNotify) and the
// queue is created with notify: true, so every insert also sends a NOTIFY. Actions:
//   install                       create the schema (boss.start) and the queue "noop"
//   enqueue-bulk N                one boss.insert() of N jobs
//   enqueue-single N              N boss.send() calls
//   enqueue-paced N PAUSE_S       N boss.send() calls, PAUSE_S seconds apart
//   drain loop                    fetch() + complete() in a loop at fetch's default batch (1)
//   drain work BATCH              one work() at batchSize BATCH, burstWhenBatchFull, until the
//                                 queue has nothing created or active left
//   work                          work() at batch 100 (burst on a full batch) until SIGTERM
// Each prints one JSON line, {"seconds": ...}: the timed call only, not Node's start-up.
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, "..", ".pgboss", "package.json"));
const { PgBoss } = await import(require.resolve("pg-boss"));

const [action, url, notifyArg, ...args] = process.argv.slice(2);
const notify = notifyArg === "1";
const QUEUE = "noop";
const BATCH_WORKER = 100;

function boss() {
  // No maintenance or cron instance: only the queue's own work is measured.
  const b = new PgBoss({
    connectionString: url,
    useListenNotify: notify,
    supervise: false,
    schedule: false,
    migrate: action === "install",
  });
  b.on("error", (error) => console.error(error));
  return b;
}

async function timed(call) {
  const started = performance.now();
  await call();
  return (performance.now() - started) / 1000;
}

const sleep = (s) => new Promise((resolve) => setTimeout(resolve, s * 1000));

async function remaining(b) {
  const { rows } = await b
    .getDb()
    .executeSql("SELECT count(*)::int AS n FROM pgboss.job WHERE name = $1 AND state IN ('created', 'retry', 'active')", [QUEUE]);
  return rows[0].n;
}

async function drainWork(b, batch) {
  await b.work(QUEUE, { batchSize: batch, burstWhenBatchFull: true }, async () => {});
  while ((await remaining(b)) > 0) await sleep(0.1);
}

async function drainLoop(b) {
  for (;;) {
    const jobs = await b.fetch(QUEUE);
    if (jobs.length === 0) return;
    await b.complete(QUEUE, jobs.map((job) => job.id));
  }
}

async function sendPaced(b, n, pause) {
  for (let i = 0; i < n; i++) {
    await b.send(QUEUE, {});
    if (pause) await sleep(pause);
  }
}

async function untilSignal(b) {
  await b.work(QUEUE, { batchSize: BATCH_WORKER, burstWhenBatchFull: true }, async () => {});
  await new Promise((resolve) => process.once("SIGTERM", resolve));
}

const b = boss();
await b.start();
let seconds = 0;
const n = Number(args[0] ?? 0);
if (action === "install") await b.createQueue(QUEUE, { notify });
else if (action === "enqueue-bulk") seconds = await timed(() => b.insert(QUEUE, Array.from({ length: n }, () => ({ data: {} }))));
else if (action === "enqueue-single") seconds = await timed(() => sendPaced(b, n, 0));
else if (action === "enqueue-paced") seconds = await timed(() => sendPaced(b, n, Number(args[1])));
else if (action === "drain" && args[0] === "loop") seconds = await timed(() => drainLoop(b));
else if (action === "drain") seconds = await timed(() => drainWork(b, Number(args[1])));
else if (action === "work") seconds = await timed(() => untilSignal(b));
else throw new Error(`unknown action ${action}`);
await b.stop({ graceful: true, wait: true });
console.log(JSON.stringify({ seconds }));
