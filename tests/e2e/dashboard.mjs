// The web dashboard in a real headless browser (Debian's Chromium driven
// by playwright-core), against a running job (tests/e2e/dashboard.sh
// starts it and passes what it knows in the environment):
//   1. the page loads, and nothing logs an error to the console;
//   2. the graph matches the job: every operator with its parallelism,
//      its chain, the partitioning of each network edge;
//   3. what the page shows agrees with the REST API: the test fetches the
//      same endpoints just before and just after the page's own refresh,
//      and every number drawn lies between the two (counters) or equals
//      one of them (rates, gauges), hosts and bindings exactly;
//   4. the network matrix has a cell for every pair of TaskManagers that
//      a channel joins, with bytes; with rank 2 stopped for a few seconds
//      (SIGSTOP: a slow node) its column lights up in the credit-wait view;
//   5. savepoint without a token is refused (the page says so); with the
//      token pasted into the field the button takes a savepoint whose
//      directory holds _metadata.h5;
//   6. "Stop with savepoint" stops the job (the script checks exit code 4).
// Screenshots go to $SHOTS; the first load's time and payload are printed
// as "first-load: ..." for BENCHMARKS.md.
import { createRequire } from "node:module";
import fs from "node:fs";
import path from "node:path";

const require = createRequire(import.meta.url);
const { chromium } = require("playwright-core");

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set`);
  return v;
};
const URL = env("URL"), JID = env("JID"), SHOTS = env("SHOTS"), TOKEN = env("TOKEN");
const SKEW = process.env.MODE === "skew";
const EXPECT = SKEW ? {} : JSON.parse(env("EXPECT")); // {uid: {parallelism, kind}}
const EDGES = SKEW ? [] : JSON.parse(env("EDGES")); // [[src uid, dst uid, strategy]]
const CHAINS = SKEW ? [] : JSON.parse(env("CHAINS")); // [[uid, uid...]] operators chained together
const NTMS = Number(process.env.NTMS || 3);
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";

let failures = 0;
function check(ok, what) {
  if (ok) console.log("ok:", what);
  else { console.log("FAIL:", what); failures++; }
}
function fatal(what) {
  console.log("FAIL:", what);
  process.exit(1);
}
async function rest(p) {
  const r = await fetch(URL + p);
  if (!r.ok) throw new Error(`${p}: ${r.status}`);
  return r.json();
}
// The pid of this job's rank r: the process whose environment has
// OMPI_COMM_WORLD_RANK=r and this test's MPIFLOW_RUN_DIR (unique per run).
function findRank(r) {
  const want = [`OMPI_COMM_WORLD_RANK=${r}`, `MPIFLOW_RUN_DIR=${env("MPIFLOW_RUN_DIR")}`];
  for (const d of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    let e;
    try { e = fs.readFileSync(`/proc/${d}/environ`, "latin1").split("\0"); } catch { continue; }
    if (want.every((w) => e.includes(w))) return Number(d);
  }
  return 0;
}
const between = (v, a, b) => typeof v === "number" && v >= Math.min(a, b) && v <= Math.max(a, b);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// MODE=skew: a job whose key-by sends every record to one key, so one
// TaskManager receives all of the shuffle: the heat map must show one hot
// column (the summary's largest receiver at least 2.5x the mean of 3).
// Its rank 3 fails once: the page lists the exception as the REST API
// does and counts one restart. Then the cancel button cancels the job
// (the script checks exit code 3).
async function skew() {
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox", "--disable-gpu"] });
  let ok = false;
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    page.on("dialog", (d) => d.accept());
    await page.goto(URL + "/?refresh=1000");
    // the injected failure, then the restart
    await page.waitForFunction(() => document.querySelectorAll("#exc-list li").length >= 1 &&
      document.querySelector("#job-restarts").textContent === "1" && document.querySelector("#job-state").textContent === "RUNNING", null, { timeout: 30000 });
    const exc = await page.$$eval("#exc-list li", (l) => l.map((x) => x.textContent));
    const restExc = (await rest(`/jobs/${JID}/exceptions`))["all-exceptions"];
    const excOk = exc.length === restExc.length && exc[0].includes(restExc[0].exception) && exc[0].includes("tm-3");
    console.log(excOk ? "ok:" : "FAIL:", `exceptions: the page lists the injected failure from tm-3 (${JSON.stringify(exc[0]).slice(0, 160)}), restarts 1`);
    await page.waitForFunction(() => {
      const n = window.mpfDash?.state.network;
      return n && n.totals.bytesSentPerSecond.received.filter((v) => v > 0).length >= 1 &&
        n.matrix.bytesSentPerSecond.flat().filter((v) => v > 0).length >= 3;
    }, null, { timeout: 30000 });
    await sleep(1500);
    const net = await rest(`/jobs/${JID}/network`);
    const rec = net.totals.bytesSentPerSecond.received;
    const mean = rec.reduce((a, b) => a + b, 0) / rec.length, top = Math.max(...rec);
    const hot = net.ranks[rec.indexOf(top)];
    const summary = await page.textContent("#net-summary");
    console.log("skew: received bytes/s per TaskManager:", rec.map((v) => v.toFixed(0)).join(" "), "|", summary);
    const hotCells = await page.$$eval(`#net rect.cell[data-dst="${hot}"]`, (rs) => rs.map((r) => Number(r.dataset.value)));
    const coldMax = Math.max(...(await page.$$eval(`#net rect.cell:not([data-dst="${hot}"])`, (rs) => rs.map((r) => Number(r.dataset.value) || 0))));
    ok = excOk && top / mean >= 2.5 && summary.includes(`tm-${hot}`) && Math.min(...hotCells) > 4 * coldMax;
    console.log(ok ? "ok:" : "FAIL:", `skewed key-by: tm-${hot} receives ${(top / mean).toFixed(2)}x the mean, every cell of its column over 4x any other cell`);
    await (await page.$("#sec-net")).screenshot({ path: path.join(SHOTS, "dashboard-network-skew.png") });
    await page.screenshot({ path: path.join(SHOTS, "dashboard-skew-restart.png"), fullPage: true });
    await page.click("#btn-cancel");
    await page.waitForFunction(() => /cancel requested|cancel:/.test(document.querySelector("#action-status").textContent), null, { timeout: 10000 });
    const st = await page.textContent("#action-status");
    console.log(/cancel requested/.test(st) ? "ok:" : "FAIL:", "cancel button:", st);
    ok = ok && /cancel requested/.test(st);
  } catch (e) {
    console.log("FAIL:", e.stack || e);
  } finally {
    await browser.close();
  }
  process.exit(ok ? 0 : 1);
}

fs.mkdirSync(SHOTS, { recursive: true });
if (SKEW) await skew(); // exits
const browser = await chromium.launch({
  executablePath: CHROMIUM, headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
});
let code = 0;
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const consoleErrors = [];
  let phase = "load";
  page.on("console", (m) => { if (m.type() === "error") consoleErrors.push(`[${phase}] ${m.text()}`); });
  page.on("pageerror", (e) => consoleErrors.push(`[${phase}] page error: ${e.message}`));
  page.on("requestfailed", (r) => consoleErrors.push(`[${phase}] request failed: ${r.url()} ${r.failure()?.errorText}`));
  page.on("dialog", (d) => d.accept());

  // --- 1. load ---
  const t0 = Date.now();
  const resp = await page.goto(URL + "/?refresh=1000", { waitUntil: "load" });
  check(resp.ok() && (resp.headers()["content-type"] || "").startsWith("text/html"), "GET / serves HTML");
  if (await page.$("#nolibs"))
    fatal("the binary was built without the dashboard's libraries although node_modules exists: run `npm ci` and configure again");
  await page.waitForFunction(() => window.mpfDash && window.mpfDash.state.ticks >= 1 && document.querySelectorAll("#graph g.op").length > 0, null, { timeout: 20000 });
  const loadWall = Date.now() - t0;
  const perf = await page.evaluate(() => {
    const nav = performance.getEntriesByType("navigation")[0];
    const res = performance.getEntriesByType("resource");
    const sum = (a, k) => a.reduce((s, e) => s + (e[k] || 0), 0);
    const assets = res.filter((e) => new URL(e.name).pathname.startsWith("/assets/"));
    const api = res.filter((e) => !new URL(e.name).pathname.startsWith("/assets/"));
    return {
      firstRender: window.mpfDash.state.firstRenderMs, dcl: nav.domContentLoadedEventEnd, load: nav.loadEventEnd,
      assetsTransfer: nav.transferSize + sum(assets, "transferSize"), assetsDecoded: nav.decodedBodySize + sum(assets, "decodedBodySize"),
      apiTransfer: sum(api, "transferSize"), requests: 1 + res.length,
      encodings: assets.map((e) => new URL(e.name).pathname + ":" + e.encodedBodySize + "/" + e.decodedBodySize),
    };
  });
  console.log(`first-load: ${perf.firstRender.toFixed(0)} ms to the first full render (DOMContentLoaded ${perf.dcl.toFixed(0)} ms, load ${perf.load.toFixed(0)} ms, ${loadWall} ms wall in the test); ` +
    `page and assets ${(perf.assetsTransfer / 1024).toFixed(1)} KiB transferred (${(perf.assetsDecoded / 1024).toFixed(1)} KiB decoded), ` +
    `first API answers ${(perf.apiTransfer / 1024).toFixed(1)} KiB, ${perf.requests} requests`);
  console.log("assets (encoded/decoded bytes):", perf.encodings.join(" "));
  check(perf.assetsTransfer < perf.assetsDecoded, "assets travel gzip-compressed");

  // Let a few metric snapshots and checkpoints arrive.
  await page.waitForFunction(() => {
    const s = window.mpfDash.state;
    return s.checkpoints && s.checkpoints.counts.completed >= 2 && s.network &&
      s.network.matrix.bytesSentPerSecond.some((row) => row.some((v) => v > 0)) &&
      s.job.vertices.every((v) => v.metrics && v.metrics.busyTimeMsPerSecond !== undefined);
  }, null, { timeout: 30000 });
  await sleep(1500);
  await page.screenshot({ path: path.join(SHOTS, "dashboard.png"), fullPage: true });

  // --- 2. the graph ---
  const ops = await page.$$eval("#graph g.op", (gs) => gs.map((g) => ({
    uid: g.dataset.uid, parallelism: Number(g.dataset.parallelism), chain: g.closest("g.chain-g").dataset.chain,
    text: g.textContent })));
  check(ops.length === Object.keys(EXPECT).length, `the graph has ${Object.keys(EXPECT).length} operators (got ${ops.length})`);
  for (const [uid, e] of Object.entries(EXPECT)) {
    const o = ops.find((x) => x.uid === uid);
    check(o && o.parallelism === e.parallelism && o.text.includes(uid) && o.text.includes(`p=${e.parallelism}`) && o.text.includes(e.kind),
      `graph: ${uid} is a ${e.kind} with parallelism ${e.parallelism}`);
  }
  for (const chain of CHAINS) {
    const ids = chain.map((u) => ops.find((x) => x.uid === u)?.chain);
    check(ids.every((c) => c !== undefined && c === ids[0]), `graph: ${chain.join(" -> ")} share one chain box`);
  }
  const nChains = await page.$$eval("#graph g.chain-g", (g) => g.length);
  const edges = await page.$$eval("#graph g.edge-g", (gs) => gs.map((g) => [g.dataset.src, g.dataset.dst, g.dataset.strategy, g.textContent]));
  check(edges.length === EDGES.length, `graph: ${EDGES.length} network edges (got ${edges.length})`);
  for (const [s, d, st] of EDGES)
    check(edges.some(([a, b, c]) => a === s && b === d && c === st), `graph: edge ${s} -> ${d} is ${st}`);
  const hashLabel = edges.find((e) => e[2] === "HASH");
  check(!hashLabel || /HASH\(\w+\)/.test(hashLabel[3]), "graph: the key-by edge names its key");
  check(nChains === Object.keys(EXPECT).length - CHAINS.reduce((n, c) => n + c.length - 1, 0), `graph: ${nChains} chain boxes`);

  // --- 3. numbers against the REST API ---
  phase = "compare";
  await page.evaluate(() => window.mpfDash.pause());
  await page.waitForFunction(() => !window.mpfDash.state.busy);
  // The REST answers just before and just after the page's own refresh.
  // Rates change with each metrics snapshot (every 500 ms): when two
  // arrive between the fetches (a loaded machine), the page may show one
  // in between; take the three readings again then.
  const readAll = async () => ({ job: await rest(`/jobs/${JID}`), ck: await rest(`/jobs/${JID}/checkpoints`), tms: await rest("/taskmanagers"), net: await rest(`/jobs/${JID}/network`) });
  const readPage = () => page.evaluate(() => {
    const cells = (tr) => [...tr.children].map((c) => c.dataset.value);
    return {
      name: document.querySelector("#job-name").textContent, jid: document.querySelector("#job-id").textContent,
      state: document.querySelector("#job-state").textContent,
      ops: [...document.querySelectorAll("#ops-table tbody tr")].map((tr) => ({ uid: tr.dataset.uid, v: cells(tr) })),
      tms: [...document.querySelectorAll("#tm-table tbody tr")].map((tr) => ({ rank: Number(tr.dataset.rank), v: cells(tr) })),
      completed: Number(document.querySelector("#ckpt-counts").dataset.completed),
      ckRows: [...document.querySelectorAll("#ckpt-table tbody tr")].map((tr) => ({ id: Number(tr.dataset.id), v: cells(tr) })),
      net: [...document.querySelectorAll("#net rect.cell")].map((r) => ({ src: Number(r.dataset.src), dst: Number(r.dataset.dst), v: r.dataset.value })),
      netMetric: document.querySelector("#net").dataset.metric,
    };
  });
  const num = (s) => (s === "" || s === undefined ? null : Number(s));
  const RATES = [[3, "numRecordsInPerSecond"], [4, "numRecordsOutPerSecond"], [7, "busyTimeMsPerSecond"], [8, "backPressuredTimeMsPerSecond"], [9, "idleTimeMsPerSecond"]];
  const sameAs = (x, b, a, k) => x === b.metrics[k] || x === a.metrics[k];
  const netCell = (n, c) => n.matrix.bytesSentPerSecond[n.ranks.indexOf(c.src)][n.ranks.indexOf(c.dst)];
  const agree = (b, a, sh) =>
    sh.ops.every((o) => {
      const vb = b.job.vertices.find((v) => v.uid === o.uid), va = a.job.vertices.find((v) => v.uid === o.uid);
      return RATES.every(([i, k]) => sameAs(num(o.v[i]), vb, va, k));
    }) && sh.net.every((c) => num(c.v) === netCell(b.net, c) || num(c.v) === netCell(a.net, c));
  let before, after, shown;
  for (let attempt = 1; attempt <= 6; attempt++) {
    before = await readAll();
    await page.evaluate(() => window.mpfDash.refresh());
    after = await readAll();
    shown = await readPage();
    if (agree(before, after, shown)) break;
    console.log(`  (attempt ${attempt}: metrics changed more than once between the readings; again)`);
  }
  check(shown.name === after.job.name && shown.jid === JID && shown.state === after.job.state, `header: ${shown.name} ${shown.state}`);
  for (const o of shown.ops) {
    const b = before.job.vertices.find((v) => v.uid === o.uid), a = after.job.vertices.find((v) => v.uid === o.uid);
    const [, , p, rin, rout, nin, nout, busy, bp, idle, wm] = o.v.map(num);
    check(p === a.parallelism && p === EXPECT[o.uid].parallelism, `table: ${o.uid} parallelism ${p}`);
    check(between(nin, b.metrics["read-records"], a.metrics["read-records"]) && between(nout, b.metrics["write-records"], a.metrics["write-records"]),
      `table: ${o.uid} records in ${nin} and out ${nout} lie between the REST answers before and after`);
    const same = (x, k) => x === b.metrics[k] || x === a.metrics[k];
    check(same(rin, "numRecordsInPerSecond") && same(rout, "numRecordsOutPerSecond") && same(busy, "busyTimeMsPerSecond") &&
      same(bp, "backPressuredTimeMsPerSecond") && same(idle, "idleTimeMsPerSecond"),
      `table: ${o.uid} rates and times (${rin}/s in, ${rout}/s out, busy ${busy}, bp ${bp}, idle ${idle}) are the REST API's`);
    check(between(wm, b.metrics.currentOutputWatermark, a.metrics.currentOutputWatermark), `table: ${o.uid} watermark ${wm} is the REST API's`);
  }
  check(shown.tms.length === NTMS, `${NTMS} TaskManagers listed`);
  for (const t of shown.tms) {
    const a = after.tms.taskmanagers.find((x) => x.rank === t.rank);
    check(a && t.v[2] === a.host && t.v[3] === a.binding && a.host && a.binding, `TaskManager ${t.rank}: host ${t.v[2]}, binding '${t.v[3]}'`);
  }
  check(between(shown.completed, before.ck.counts.completed, after.ck.counts.completed), `checkpoints completed: ${shown.completed}`);
  for (const r of shown.ckRows.slice(0, 5)) {
    const st = r.v[1]; // as the page saw it: IN_PROGRESS may have completed since
    const h = [...after.ck.history, ...before.ck.history].find((x) => x.id === r.id && x.status === st);
    check(h && (h.status !== "COMPLETED" || (num(r.v[4]) === h.end_to_end_duration && num(r.v[5]) === h.state_size)),
      `checkpoint ${r.id}: duration and size are the REST API's`);
  }
  // --- 4. network matrix ---
  check(shown.netMetric === "bytesSentPerSecond" && shown.net.length === NTMS * NTMS, `network matrix: ${NTMS}x${NTMS} cells`);
  let netOk = true, filled = 0;
  for (const c of shown.net) {
    const i = after.net.ranks.indexOf(c.src), j = after.net.ranks.indexOf(c.dst);
    const vb = before.net.matrix.bytesSentPerSecond[i][j], va = after.net.matrix.bytesSentPerSecond[i][j];
    const v = num(c.v);
    if (!(v === vb || v === va)) { netOk = false; console.log("  cell", c, vb, va); }
    if (v > 0) filled++;
  }
  check(netOk, "network matrix: every cell is the REST API's bytes/s");
  check(filled === NTMS * NTMS, `network matrix: all ${NTMS * NTMS} sender/receiver pairs carry bytes (the key-by goes all to all): ${filled}`);
  const bytesRows = after.net.matrix.bytesSent;
  check(bytesRows.every((row) => row.every((v) => v > 0)), "network: bytesSent counted for every pair");
  await page.selectOption("#net-metric", "creditWaitTimeMs");
  const waitCells = await page.$$eval("#net rect.cell", (rs) => rs.filter((r) => r.dataset.value !== "").length);
  check(waitCells === NTMS * NTMS, "network matrix: the credit-wait view has a value in every cell");
  await page.selectOption("#net-metric", "bytesSentPerSecond");
  // --- 4b. a slow node: rank 2 stopped (SIGSTOP) for a few seconds ---
  // Its inputs run out of credit, so the channels into it wait: the
  // credit-wait view must light up its column and nothing else.
  const rank2 = findRank(2);
  if (rank2) {
    await page.selectOption("#net-metric", "creditWaitTimeMsPerSecond");
    let net;
    process.kill(rank2, "SIGSTOP");
    try {
      await sleep(2500);
      net = await rest(`/jobs/${JID}/network`);
      await page.evaluate(() => window.mpfDash.refresh());
      await (await page.$("#sec-net")).screenshot({ path: path.join(SHOTS, "dashboard-network-slow-node.png") });
    } finally {
      process.kill(rank2, "SIGCONT");
    }
    const col = net.totals.creditWaitTimeMsPerSecond.received;
    const i2 = net.ranks.indexOf(2);
    const others = Math.max(...col.filter((_, i) => i !== i2));
    const summary = await page.textContent("#net-summary");
    console.log("slow node: credit wait ms/s received per TaskManager:", col.map((v) => v.toFixed(0)).join(" "), "|", summary);
    check(col[i2] >= 500 && col[i2] > 5 * others && summary.includes("tm-2"),
      "slow node: the credit-wait view shows tm-2's column (its inputs wait for credit), the others stay cool");
    await page.selectOption("#net-metric", "bytesSentPerSecond");
    await sleep(2000); // back to normal before the savepoint
  } else {
    check(false, "slow node: found no process of rank 2 (OMPI_COMM_WORLD_RANK=2 with this test's MPIFLOW_RUN_DIR)");
  }
  // a click on an operator opens its subtasks
  await page.click('#graph g.op[data-uid="win"]');
  await page.waitForSelector("#subtasks:not([hidden]) tbody tr");
  const subs = await page.$$eval("#subtasks tbody tr", (t) => t.length);
  check(subs === EXPECT.win.parallelism, `subtasks of win: ${subs} rows`);
  await page.evaluate(() => window.mpfDash.resume());

  // --- 5. savepoint ---
  phase = "no-token";
  await page.fill("#token", "");
  await page.click("#btn-savepoint");
  await page.waitForFunction(() => /token/.test(document.querySelector("#action-status").textContent), null, { timeout: 10000 });
  check(true, "savepoint without the token: the page asks for it");
  phase = "savepoint";
  await page.fill("#token", TOKEN);
  await page.click("#btn-savepoint");
  await page.waitForFunction(() => /savepoint (done|failed)/.test(document.querySelector("#action-status").textContent), null, { timeout: 60000 });
  const spText = await page.textContent("#action-status");
  const m = /savepoint done: (\S+)/.exec(spText);
  check(m && fs.existsSync(path.join(m[1], "_metadata.h5")), `savepoint button: ${spText.trim()} (with _metadata.h5)`);
  await page.waitForFunction(() => [...document.querySelectorAll("#ckpt-table tbody tr td:nth-child(3)")].some((c) => c.textContent === "savepoint"), null, { timeout: 10000 });
  check(true, "the savepoint is listed in the checkpoint table");
  await page.screenshot({ path: path.join(SHOTS, "dashboard-savepoint.png"), fullPage: true });
  // the heat map alone, for a closer look
  await (await page.$("#sec-net")).screenshot({ path: path.join(SHOTS, "dashboard-network.png") });

  const errs = consoleErrors.filter((e) => !(e.startsWith("[no-token]") && /401/.test(e)));
  check(errs.length === 0, "no console errors" + (errs.length ? ":\n  " + errs.join("\n  ") : ""));

  // --- 6. stop with savepoint ---
  phase = "stop";
  await page.click("#btn-stop");
  await page.waitForFunction(() => /stop (done|failed)|lost the JobManager/.test(document.querySelector("#action-status").textContent), null, { timeout: 60000 });
  const stopText = await page.textContent("#action-status");
  const s = /stop done: (\S+)/.exec(stopText);
  check(s && fs.existsSync(path.join(s[1], "_metadata.h5")), `stop button: ${stopText.trim()}`);
  if (s) fs.writeFileSync(path.join(SHOTS, "stop-savepoint.txt"), s[1] + "\n");
} catch (e) {
  console.log("FAIL:", e.stack || e);
  code = 1;
} finally {
  await browser.close();
}
console.log(failures ? `${failures} check(s) failed` : "all dashboard checks passed");
process.exit(code || (failures ? 1 : 0));
