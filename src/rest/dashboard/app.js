/* mpiflow web dashboard: polls the JobManager's REST API (the same
 * origin) and draws the job graph (dagre lays it out), the operators'
 * metrics, throughput and watermark lag (Chart.js), the rank x rank
 * network matrix, checkpoints, TaskManagers and exceptions; its buttons
 * take a savepoint, stop with a savepoint, or cancel, with an optional
 * bearer token. window.mpfDash lets a test read what was drawn and from
 * which answers. */
"use strict";

(function () {
  const params = new URLSearchParams(location.search);
  const REFRESH_MS = Math.max(250, Number(params.get("refresh")) || 2000);
  const HISTORY_MS = 5 * 60 * 1000; // throughput and lag charts
  const WM_LIMIT = 9e18; // beyond: no watermark yet (INT64_MIN) or the end of time (INT64_MAX)

  const $ = (sel) => document.querySelector(sel);
  const dash = {
    jid: null, plan: null, job: null, checkpoints: null, taskmanagers: null, network: null,
    exceptions: null, ticks: 0, lastTick: 0, errors: 0, lastError: null, selected: null,
    paused: false, busy: false, series: { rate: new Map(), lag: new Map() }, charts: {},
  };
  window.mpfDash = {
    state: dash,
    refresh: () => tick(true),
    pause: () => { dash.paused = true; },
    resume: () => { dash.paused = false; },
  };

  // --- formatting ---
  const isNum = (v) => typeof v === "number" && Number.isFinite(v);
  function si(v, digits) {
    if (!isNum(v)) return "—";
    const a = Math.abs(v);
    const units = [[1e12, "T"], [1e9, "G"], [1e6, "M"], [1e3, "k"]];
    for (const [d, u] of units) if (a >= d) return (v / d).toFixed(digits ?? 1) + " " + u;
    return a >= 100 || Number.isInteger(v) ? String(Math.round(v)) : v.toFixed(1);
  }
  function bytes(v) {
    if (!isNum(v)) return "—";
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let i = 0;
    while (Math.abs(v) >= 1024 && i < units.length - 1) { v /= 1024; i++; }
    return (i ? v.toFixed(1) : String(Math.round(v))) + " " + units[i];
  }
  function dur(ms) {
    if (!isNum(ms)) return "—";
    const a = Math.abs(ms), s = ms < 0 ? "−" : "";
    if (a < 1000) return s + Math.round(a) + " ms";
    if (a < 60e3) return s + (a / 1000).toFixed(a < 10e3 ? 2 : 1) + " s";
    if (a < 3600e3) return s + Math.floor(a / 60e3) + " min " + Math.round((a % 60e3) / 1000) + " s";
    if (a < 86400e3 * 2) return s + Math.floor(a / 3600e3) + " h " + Math.round((a % 3600e3) / 60e3) + " min";
    return s + Math.round(a / 86400e3) + " days";
  }
  function clock(ms) {
    if (!isNum(ms) || ms <= 0) return "—";
    const d = new Date(ms);
    return d.toLocaleTimeString([], { hour12: false }) + "." + String(d.getMilliseconds()).padStart(3, "0");
  }
  function wmText(w) {
    if (!isNum(w) || w <= -WM_LIMIT) return "none yet";
    if (w >= WM_LIMIT) return "end of time";
    return w > 1e11 ? new Date(w).toISOString().replace("T", " ").replace("Z", "") : String(w);
  }
  function lagOf(now, w) {
    return isNum(w) && Math.abs(w) < WM_LIMIT && isNum(now) ? now - w : null;
  }
  function el(tag, attrs, text) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) if (v !== undefined && v !== null) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  const SVG = "http://www.w3.org/2000/svg";
  function sv(tag, attrs, text) {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) if (v !== undefined && v !== null) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  // A table cell showing text, with the raw value in data-value (for tests and tooltips).
  function td(text, value, cls) {
    const c = el("td", { class: cls, "data-value": value === undefined || value === null ? "" : String(value) }, text);
    return c;
  }

  // --- colours (Flink's convention; the scale is ours) ---
  // Backpressured more than busy (and at least 50 ms/s, so that noise
  // does not grey an idle operator): grey, lighter to darker with the
  // backpressured ms/s (0: 80 % lightness, 1000: 15 %). Otherwise the hue
  // goes from blue (210, idle) over green to red (0) with busy ms/s, and
  // the lightness from 82 % to 62 %.
  function opColour(m) {
    const busy = Math.min(1000, Math.max(0, m?.busyTimeMsPerSecond ?? 0));
    const bp = Math.min(1000, Math.max(0, m?.backPressuredTimeMsPerSecond ?? 0));
    if (!m || (m.busyTimeMsPerSecond === undefined && m.backPressuredTimeMsPerSecond === undefined))
      return { fill: "hsl(0,0%,94%)", text: "#1d2430", kind: "unknown" };
    if (bp > busy && bp >= 50) {
      const l = 80 - 65 * bp / 1000;
      return { fill: `hsl(0,0%,${l.toFixed(0)}%)`, text: l < 50 ? "#fff" : "#1d2430", kind: "backpressured" };
    }
    const f = busy / 1000;
    return { fill: `hsl(${(210 * (1 - f)).toFixed(0)},75%,${(82 - 20 * f).toFixed(0)}%)`, text: "#1d2430", kind: f > 0.5 ? "busy" : "idle" };
  }

  // --- REST ---
  async function getJSON(path) {
    const r = await fetch(path, { cache: "no-store", headers: { Accept: "application/json" } });
    const body = await r.json().catch(() => null);
    if (!r.ok) throw new Error(`${path}: ${r.status} ${(body && body.errors && body.errors[0]) || r.statusText}`);
    return body;
  }
  function authHeaders() {
    const h = { "Content-Type": "application/json", Accept: "application/json" };
    const t = $("#token").value.trim();
    if (t) h.Authorization = "Bearer " + t;
    return h;
  }
  async function send(method, path, body) {
    const r = await fetch(path, { method, headers: authHeaders(), body: body === undefined ? undefined : JSON.stringify(body) });
    const j = await r.json().catch(() => ({}));
    if (r.status === 401) throw new Error("the JobManager wants a valid token (rest.auth.token): paste it into the token field");
    if (!r.ok) throw new Error((j.errors && j.errors[0]) || `${r.status} ${r.statusText}`);
    return j;
  }

  // --- header ---
  function drawHeader() {
    const j = dash.job;
    $("#job-name").textContent = j.name;
    const st = $("#job-state");
    st.textContent = j.state;
    st.className = "state " + j.state;
    $("#job-id").textContent = j.jid;
    $("#job-type").textContent = j["job-type"];
    $("#job-duration").textContent = dur(j.duration);
    $("#job-restarts").textContent = String(j.restarts ?? 0);
    $("#job-tms").textContent = dash.taskmanagers ? String(dash.taskmanagers.taskmanagers.length) : "—";
    $("#updated").textContent = clock(j.now);
    const ended = ["FINISHED", "CANCELED", "FAILED"].includes(j.state);
    $("#btn-savepoint").disabled = ended || !j.isStoppable;
    $("#btn-stop").disabled = ended || !j.isStoppable;
    $("#btn-cancel").disabled = ended;
    if (!j.isStoppable) $("#btn-savepoint").title = $("#btn-stop").title = "this job cannot take savepoints";
  }

  // --- job graph ---
  const OP_W = 250, OP_H = 46, CHAIN_PAD = 8, CHAIN_HEAD = 18;
  function edgeLabel(input, srcVertex) {
    let s = input.ship_strategy === "HASH" && input.key ? `HASH(${input.key})` : input.ship_strategy;
    if (input.side_output !== undefined) s += ` side ${input.side_output}`;
    const r = srcVertex?.metrics?.numRecordsOutPerSecond;
    return { strategy: s, rate: isNum(r) ? si(r) + " rec/s" : "" };
  }
  function layoutGraph() {
    const plan = dash.plan.plan;
    const g = new dagre.graphlib.Graph({ multigraph: true });
    g.setGraph({ rankdir: "LR", nodesep: 24, ranksep: 70, marginx: 12, marginy: 12 });
    g.setDefaultEdgeLabel(() => ({}));
    for (const c of dash.plan.chains)
      g.setNode("c" + c.index, { width: OP_W + 2 * CHAIN_PAD, height: CHAIN_HEAD + c.nodes.length * (OP_H + 6) + CHAIN_PAD - 6, chain: c });
    const byId = new Map(plan.nodes.map((n) => [n.id, n]));
    plan.nodes.forEach((n) => n.inputs.forEach((inp) => {
      if (inp.chained) return;
      const src = byId.get(inp.id);
      g.setEdge("c" + src.chain, "c" + n.chain, { width: 120, height: 30, labelpos: "c", input: inp, src: src.id, dst: n.id }, `${n.id}:${inp.num}`);
    }));
    dagre.layout(g);
    dash.layout = g;
  }
  function drawGraph() {
    if (!dash.plan) return;
    if (!dash.layout) layoutGraph();
    const g = dash.layout, plan = dash.plan.plan;
    const vById = new Map((dash.job?.vertices || []).map((v) => [v.id, v]));
    const byId = new Map(plan.nodes.map((n) => [n.id, n]));
    const svg = $("#graph");
    const gw = Math.ceil(g.graph().width), gh = Math.ceil(g.graph().height);
    svg.setAttribute("width", gw);
    svg.setAttribute("height", gh);
    svg.setAttribute("viewBox", `0 0 ${gw} ${gh}`);
    svg.replaceChildren();
    const defs = sv("defs");
    const mk = sv("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" });
    mk.appendChild(sv("path", { d: "M0,0 L10,5 L0,10 z", fill: "#5b6b82" }));
    defs.appendChild(mk);
    svg.appendChild(defs);
    for (const e of g.edges()) {
      const lab = g.edge(e);
      const d = lab.points.map((p, i) => (i ? "L" : "M") + p.x.toFixed(1) + "," + p.y.toFixed(1)).join(" ");
      const ge = sv("g", { class: "edge-g", "data-src": byId.get(lab.src).uid, "data-dst": byId.get(lab.dst).uid, "data-strategy": lab.input.ship_strategy });
      ge.appendChild(sv("path", { class: "edge", d, "marker-end": "url(#arrow)" }));
      const t = edgeLabel(lab.input, vById.get(lab.src));
      ge.appendChild(sv("rect", { class: "edge-label-bg", x: lab.x - 58, y: lab.y - 14, width: 116, height: 28, rx: 3 }));
      ge.appendChild(sv("text", { class: "edge-label", x: lab.x, y: lab.y - 2, "text-anchor": "middle" }, t.strategy));
      ge.appendChild(sv("text", { class: "edge-label edge-rate", x: lab.x, y: lab.y + 10, "text-anchor": "middle" }, t.rate));
      svg.appendChild(ge);
    }
    for (const id of g.nodes()) {
      const n = g.node(id);
      const x0 = n.x - n.width / 2, y0 = n.y - n.height / 2;
      const gc = sv("g", { class: "chain-g", "data-chain": n.chain.index });
      gc.appendChild(sv("rect", { class: "chain", x: x0, y: y0, width: n.width, height: n.height, rx: 6 }));
      gc.appendChild(sv("text", { x: x0 + CHAIN_PAD, y: y0 + 13, "font-size": 10.5, fill: "#667085" },
        n.chain.nodes.length > 1 ? `chain of ${n.chain.nodes.length} · ${n.chain.parallelism} subtasks` : `${n.chain.parallelism} subtask(s)`));
      n.chain.nodes.forEach((vid, k) => {
        const op = byId.get(vid), v = vById.get(vid), m = v?.metrics;
        const c = opColour(m);
        const ox = x0 + CHAIN_PAD, oy = y0 + CHAIN_HEAD + k * (OP_H + 6);
        if (k > 0) gc.appendChild(sv("line", { class: "chained", x1: ox + OP_W / 2, y1: oy - 6, x2: ox + OP_W / 2, y2: oy }));
        const go = sv("g", { class: "op", "data-uid": op.uid, "data-id": op.id, "data-parallelism": op.parallelism, "data-colour": c.kind });
        const title = sv("title", {}, `${op.uid} (${op.operator}, ${op.role})\n${op.description}\nbusy ${si(m?.busyTimeMsPerSecond)} ms/s, backpressured ${si(m?.backPressuredTimeMsPerSecond)} ms/s, idle ${si(m?.idleTimeMsPerSecond)} ms/s`);
        go.appendChild(title);
        go.appendChild(sv("rect", { class: "op-box", x: ox, y: oy, width: OP_W, height: OP_H, rx: 4, fill: c.fill }));
        go.appendChild(sv("text", { class: "op-name", x: ox + 8, y: oy + 16, fill: c.text }, op.uid));
        go.appendChild(sv("text", { class: "op-meta op-kind", x: ox + OP_W - 8, y: oy + 16, "text-anchor": "end", fill: c.text }, `${op.operator} · p=${op.parallelism}`));
        const rin = m?.numRecordsInPerSecond, rout = m?.numRecordsOutPerSecond;
        go.appendChild(sv("text", { class: "op-meta", x: ox + 8, y: oy + 31, fill: c.text },
          `in ${si(rin)}/s · out ${si(rout)}/s`));
        go.appendChild(sv("text", { class: "op-meta", x: ox + 8, y: oy + 42, fill: c.text },
          `busy ${si(m?.busyTimeMsPerSecond)} · bp ${si(m?.backPressuredTimeMsPerSecond)} ms/s`));
        go.addEventListener("click", () => selectVertex(op.id));
        gc.appendChild(go);
      });
      svg.appendChild(gc);
    }
  }

  // --- operators ---
  function drawOps() {
    const tb = $("#ops-table tbody");
    const now = dash.job.now;
    const rows = dash.job.vertices.map((v) => {
      const m = v.metrics || {};
      const wm = m.currentOutputWatermark, lag = lagOf(now, wm);
      const tr = el("tr", { "data-uid": v.uid, "data-id": v.id, class: "clickable" });
      tr.append(
        td(v.uid, v.uid, "txt"), td(v.kind, v.kind, "txt"), td(String(v.parallelism), v.parallelism),
        td(si(m.numRecordsInPerSecond), m.numRecordsInPerSecond), td(si(m.numRecordsOutPerSecond), m.numRecordsOutPerSecond),
        td(si(m["read-records"], 2), m["read-records"]), td(si(m["write-records"], 2), m["write-records"]),
        td(si(m.busyTimeMsPerSecond), m.busyTimeMsPerSecond), td(si(m.backPressuredTimeMsPerSecond), m.backPressuredTimeMsPerSecond),
        td(si(m.idleTimeMsPerSecond), m.idleTimeMsPerSecond),
        td(wmText(wm), wm), td(lag === null ? "—" : dur(lag), lag),
        td(bytes(m.stateSizeBytes), m.stateSizeBytes), td(si(m.numLateRecordsDropped), m.numLateRecordsDropped));
      tr.children[0].style.borderLeft = "6px solid " + opColour(m).fill;
      tr.addEventListener("click", () => selectVertex(v.id));
      return tr;
    });
    tb.replaceChildren(...rows);
  }
  async function selectVertex(id) {
    dash.selected = id;
    await drawSubtasks();
  }
  async function drawSubtasks() {
    const box = $("#subtasks");
    if (!dash.selected) { box.hidden = true; return; }
    let v;
    try { v = await getJSON(`/jobs/${dash.jid}/vertices/${dash.selected}`); } catch (e) { return; }
    box.hidden = false;
    $("#subtasks-uid").textContent = `${v.name} (${v.kind}, p=${v.parallelism})`;
    box.querySelector("tbody").replaceChildren(...v.subtasks.map((s) => {
      const m = s.metrics || {};
      const tr = el("tr", { "data-subtask": s.subtask });
      tr.append(td(String(s.subtask), s.subtask), td(s["taskmanager-id"], s.rank, "txt"), td(s.endpoint ?? "—", s.endpoint, "txt"),
        td(si(m.numRecordsInPerSecond), m.numRecordsInPerSecond), td(si(m.numRecordsOutPerSecond), m.numRecordsOutPerSecond),
        td(si(m.busyTimeMsPerSecond), m.busyTimeMsPerSecond), td(si(m.backPressuredTimeMsPerSecond), m.backPressuredTimeMsPerSecond),
        td(wmText(m.currentInputWatermark), m.currentInputWatermark), td(wmText(m.currentOutputWatermark), m.currentOutputWatermark),
        td(bytes(m.stateSizeBytes), m.stateSizeBytes));
      tr.children[0].style.borderLeft = "6px solid " + opColour(m).fill;
      return tr;
    }));
  }

  // --- time series (throughput, lag) ---
  const PALETTE = ["#2f6fb3", "#d9480f", "#2e7d32", "#7048e8", "#c2255c", "#0b7285", "#e67700", "#495057"];
  function lineChart(canvas, yTitle, yFormat) {
    return new Chart(canvas, {
      type: "line",
      data: { datasets: [] },
      options: {
        animation: false, responsive: true, maintainAspectRatio: false, parsing: false, normalized: true,
        interaction: { mode: "nearest", intersect: false },
        elements: { point: { radius: 0 }, line: { borderWidth: 1.8, tension: 0.2 } },
        scales: {
          x: { type: "linear", title: { display: true, text: "seconds ago" },
               ticks: { callback: (v) => String(Math.round(-v)), maxTicksLimit: 7 } },
          y: { beginAtZero: true, title: { display: true, text: yTitle }, ticks: { callback: yFormat } },
        },
        plugins: { legend: { position: "bottom", labels: { boxWidth: 12 } } },
      },
    });
  }
  function record(map, key, t, v) {
    if (!isNum(v)) return;
    let a = map.get(key);
    if (!a) map.set(key, (a = []));
    a.push({ t, v });
    while (a.length && a[0].t < t - HISTORY_MS) a.shift();
  }
  function drawSeries() {
    const j = dash.job, t = j.now;
    const plan = dash.plan?.plan;
    const roles = new Map((plan?.nodes || []).map((n) => [n.id, n.role]));
    for (const v of j.vertices) {
      const m = v.metrics || {}, role = roles.get(v.id);
      if (role === "source") record(dash.series.rate, v.uid + " out", t, m.numRecordsOutPerSecond);
      if (role === "sink") record(dash.series.rate, v.uid + " in", t, m.numRecordsInPerSecond);
      const lag = lagOf(t, m.currentOutputWatermark);
      if (lag !== null) record(dash.series.lag, v.uid, t, lag);
    }
    for (const [name, map, fmt] of [["rate", dash.series.rate], ["lag", dash.series.lag]]) {
      const ch = dash.charts[name];
      if (!ch) continue;
      ch.data.datasets = [...map.entries()].map(([label, pts], i) => ({
        label, borderColor: PALETTE[i % PALETTE.length], backgroundColor: PALETTE[i % PALETTE.length],
        data: pts.map((p) => ({ x: (p.t - t) / 1000, y: p.v })),
      }));
      // the axis grows with the history, from 30 s up to HISTORY_MS
      const oldest = Math.min(t, ...[...map.values()].map((pts) => (pts.length ? pts[0].t : t)));
      ch.options.scales.x.min = -Math.min(HISTORY_MS, Math.max(30e3, t - oldest)) / 1000;
      ch.options.scales.x.max = 0;
      ch.update("none");
    }
  }

  // --- network matrix ---
  const NET_HUE = { bytesSentPerSecond: 212, bytesSent: 212, batchesSent: 212, creditWaitTimeMsPerSecond: 8, creditWaitTimeMs: 8, creditWaits: 8 };
  function netFormat(metric, v) {
    if (!isNum(v)) return "";
    if (metric.startsWith("bytes")) return bytes(v) + (metric.endsWith("PerSecond") ? "/s" : "");
    if (metric === "creditWaitTimeMs") return dur(v);
    if (metric === "creditWaitTimeMsPerSecond") return si(v) + " ms/s";
    return si(v);
  }
  function drawNetwork() {
    const net = dash.network;
    if (!net) return;
    const metric = $("#net-metric").value;
    const M = net.matrix[metric] || [];
    const n = net.ranks.length;
    let max = 0;
    M.forEach((row) => row.forEach((v) => { if (isNum(v) && v > max) max = v; }));
    const cs = n <= 8 ? 74 : n <= 16 ? 46 : n <= 48 ? 18 : Math.max(6, Math.floor(900 / n));
    const labels = cs >= 46;
    const left = 64, top = 40, sumW = 86;
    const W = left + n * cs + sumW + 10, H = top + n * cs + 36;
    const svg = $("#net");
    svg.setAttribute("width", W);
    svg.setAttribute("height", H);
    svg.setAttribute("data-metric", metric);
    svg.replaceChildren();
    svg.appendChild(sv("text", { class: "axis", x: left + (n * cs) / 2, y: 12, "text-anchor": "middle" }, "to (receiver)"));
    svg.appendChild(sv("text", { class: "axis", x: 10, y: top + (n * cs) / 2, transform: `rotate(-90 10 ${top + (n * cs) / 2})`, "text-anchor": "middle" }, "from (sender)"));
    const hue = NET_HUE[metric];
    net.ranks.forEach((r, i) => {
      if (labels || i % Math.ceil(n / 16) === 0) {
        svg.appendChild(sv("text", { class: "axis", x: left + i * cs + cs / 2, y: top - 6, "text-anchor": "middle" }, "tm-" + r));
        svg.appendChild(sv("text", { class: "axis", x: left - 6, y: top + i * cs + cs / 2 + 4, "text-anchor": "end" }, "tm-" + r));
      }
    });
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
      const v = M[i]?.[j];
      const f = isNum(v) && max > 0 ? v / max : 0;
      const fill = !isNum(v) ? "#f2f4f7" : `hsl(${hue},${f > 0 ? 70 : 0}%,${(97 - 60 * Math.sqrt(f)).toFixed(1)}%)`;
      const rect = sv("rect", { class: "cell", x: left + j * cs, y: top + i * cs, width: cs, height: cs, fill,
        "data-src": net.ranks[i], "data-dst": net.ranks[j], "data-value": isNum(v) ? v : "" });
      rect.appendChild(sv("title", {}, `tm-${net.ranks[i]} → tm-${net.ranks[j]}${i === j ? " (local channels)" : ""}: ${isNum(v) ? netFormat(metric, v) : "no channel"}`));
      svg.appendChild(rect);
      if (labels && isNum(v))
        svg.appendChild(sv("text", { x: left + j * cs + cs / 2, y: top + i * cs + cs / 2 + 4, "text-anchor": "middle",
          fill: f > 0.55 ? "#fff" : "#1d2430", "pointer-events": "none" }, netFormat(metric, v).replace(" ms/s", "")));
    }
    // row sums (sent) on the right, column sums (received) below
    const tot = net.totals[metric];
    const sums = { sent: tot?.sent || [], received: tot?.received || [] };
    svg.appendChild(sv("text", { class: "axis", x: left + n * cs + 8, y: top - 6 }, "sent"));
    sums.sent.forEach((v, i) => { if (labels || n <= 32) svg.appendChild(sv("text", { class: "sum", x: left + n * cs + 8, y: top + i * cs + cs / 2 + 4, "data-sent": net.ranks[i] }, netFormat(metric, v))); });
    svg.appendChild(sv("text", { class: "axis", x: left - 6, y: top + n * cs + 16, "text-anchor": "end" }, "received"));
    sums.received.forEach((v, j) => { if (labels) svg.appendChild(sv("text", { class: "sum", x: left + j * cs + cs / 2, y: top + n * cs + 16, "text-anchor": "middle", "data-received": net.ranks[j] }, netFormat(metric, v))); });
    // imbalance: the largest receiver against the mean
    const rec = sums.received.filter(isNum);
    const mean = rec.reduce((a, b) => a + b, 0) / (rec.length || 1);
    const top1 = rec.length ? Math.max(...rec) : 0;
    const who = sums.received.indexOf(top1);
    $("#net-summary").textContent = rec.length && mean > 0
      ? `largest receiver tm-${net.ranks[who]}: ${(top1 / mean).toFixed(2)}× the mean (${netFormat(metric, top1)} vs ${netFormat(metric, mean)})`
      : "no traffic reported yet";
  }

  // --- checkpoints ---
  function drawCheckpoints() {
    const c = dash.checkpoints;
    if (!c) return;
    const k = c.counts;
    $("#ckpt-counts").textContent = k.total
      ? `${k.completed} completed (${k.savepoints ?? 0} savepoints), ${k.failed} failed, ${k.in_progress} in progress`
      : "none yet (is execution.checkpointing.interval set?)";
    $("#ckpt-chart").parentElement.hidden = !c.history.length;
    $("#ckpt-counts").setAttribute("data-completed", k.completed);
    $("#ckpt-counts").setAttribute("data-failed", k.failed);
    const hist = c.history.slice().reverse(); // oldest first
    const ch = dash.charts.ckpt;
    if (ch) {
      ch.data.labels = hist.map((h) => String(h.id));
      ch.data.datasets[0].data = hist.map((h) => (h.status === "IN_PROGRESS" ? null : h.end_to_end_duration));
      ch.data.datasets[0].backgroundColor = hist.map((h) => (h.status === "FAILED" ? "#d92d20" : h.is_savepoint ? "#7048e8" : "#2f6fb3"));
      ch.data.datasets[1].data = hist.map((h) => (h.status === "COMPLETED" ? h.state_size : null));
      ch.update("none");
    }
    $("#ckpt-table tbody").replaceChildren(...c.history.slice(0, 12).map((h) => {
      const tr = el("tr", { "data-id": h.id, "data-status": h.status });
      tr.append(td(String(h.id), h.id), td(h.status, h.status, "txt " + (h.status === "FAILED" ? "bad" : h.status === "COMPLETED" ? "ok" : "")),
        td(h.is_savepoint ? "savepoint" : "checkpoint", h.checkpoint_type, "txt"), td(clock(h.trigger_timestamp), h.trigger_timestamp, "txt"),
        td(h.status === "IN_PROGRESS" ? "…" : dur(h.end_to_end_duration), h.end_to_end_duration),
        td(h.status === "COMPLETED" ? bytes(h.state_size) : "—", h.state_size),
        td(isNum(h.alignment_duration_us) ? dur(h.alignment_duration_us / 1000) : "—", h.alignment_duration_us),
        td(h.external_path || h.failure_message || "", h.external_path || h.failure_message || "", "txt"));
      return tr;
    }));
  }

  // --- TaskManagers ---
  function drawTaskManagers() {
    const t = dash.taskmanagers;
    if (!t) return;
    $("#tm-table tbody").replaceChildren(...t.taskmanagers.map((m) => {
      const tr = el("tr", { "data-rank": m.rank });
      const x = m.metrics || {};
      tr.append(td(m.id, m.id, "txt"), td(String(m.rank), m.rank), td(m.host ?? "—", m.host, "txt"), td(m.binding ?? "—", m.binding, "txt"),
        td(m.lastHeartbeatAgeMs >= 0 ? dur(m.lastHeartbeatAgeMs) : "—", m.lastHeartbeatAgeMs),
        td(si(m.memory?.usedSegments), m.memory?.usedSegments), td(si(m.memory?.peakSegments), m.memory?.peakSegments),
        td(bytes(m.memory?.peakRssBytes), m.memory?.peakRssBytes), td(bytes(x.numBytesOutRemote), x.numBytesOutRemote),
        td(si(x.creditWaits), x.creditWaits));
      return tr;
    }));
  }

  // --- exceptions ---
  function drawExceptions() {
    const x = dash.exceptions;
    if (!x) return;
    const all = x["all-exceptions"] || [];
    $("#exc-count").textContent = all.length ? `${all.length}, newest first` : "none";
    $("#exc-list").replaceChildren(...all.map((e) => {
      const li = el("li");
      li.append(el("span", { class: "muted" }, `${clock(e.timestamp)} · ${e.taskManagerId ?? "jobmanager"}${e.task ? " · " + e.task : ""}${e.subtask >= 0 ? " subtask " + e.subtask : ""}`));
      li.append(el("pre", {}, e.exception));
      return li;
    }));
  }

  // --- logs and archived jobs ---
  function logRanks(t) {
    const sel = $("#log-rank");
    if (sel.options.length > 1 || !t) return;
    for (const m of t.taskmanagers) sel.append(el("option", { value: `/taskmanagers/${m.id}/log` }, m.id));
  }
  async function loadLog() {
    const path = $("#log-rank").value;
    $("#log-link").href = path;
    const r = await fetch(path + "?tail=65536", { cache: "no-store" });
    const text = await r.text();
    if (r.ok) $("#log-text").textContent = text;
    else { let why = text; try { why = JSON.parse(text).errors[0]; } catch (e) { /* not JSON */ } $("#log-text").textContent = why; }
  }
  function pickJob(jobs) { // mpiflow history serves many ended jobs: choose one
    if (jobs.length < 2) return;
    const sel = $("#job-pick");
    sel.replaceChildren(...jobs.map((j) => el("option", { value: j.jid }, `${j.name} · ${j.state} · ${clock(j["start-time"])}`)));
    sel.value = dash.jid;
    sel.hidden = false;
    sel.addEventListener("change", () => { location.search = "?job=" + encodeURIComponent(sel.value); });
  }

  // --- polling ---
  function banner(text) {
    const b = $("#banner");
    b.hidden = !text;
    b.textContent = text || "";
  }
  async function tick(force) {
    if ((dash.paused && !force) || dash.busy) return;
    dash.busy = true;
    try {
      if (!dash.jid) {
        const o = await getJSON("/jobs/overview");
        dash.jid = new URLSearchParams(location.search).get("job") || o.jobs[0].jid;
        pickJob(o.jobs);
      }
      const base = `/jobs/${dash.jid}`;
      const [job, checkpoints, taskmanagers, network, exceptions] = await Promise.all([
        getJSON(base), getJSON(base + "/checkpoints"), getJSON(base + "/taskmanagers"), getJSON(base + "/network"), getJSON(base + "/exceptions")]);
      logRanks(taskmanagers);
      if (!dash.plan) dash.plan = await getJSON(base + "/plan");
      Object.assign(dash, { job, checkpoints, taskmanagers, network, exceptions });
      drawHeader(); drawGraph(); drawOps(); drawSeries(); drawNetwork(); drawCheckpoints(); drawTaskManagers(); drawExceptions();
      if (dash.selected) await drawSubtasks();
      dash.ticks++;
      dash.lastTick = Date.now();
      if (!dash.firstRenderMs) dash.firstRenderMs = performance.now(); // since navigation start
      banner(dash.errors ? "" : null);
      dash.errors = 0;
    } catch (e) {
      dash.errors++;
      dash.lastError = String(e.message || e);
      banner(`The JobManager did not answer (${dash.lastError}); the job may have ended. Retrying…`);
    } finally {
      dash.busy = false;
    }
  }

  // --- actions ---
  function status(text, cls) {
    const s = $("#action-status");
    s.textContent = text;
    s.className = "action-status " + (cls || "");
  }
  async function waitTrigger(kind, id) {
    for (let i = 0; i < 600; i++) {
      let r;
      try { r = await getJSON(`/jobs/${dash.jid}/savepoints/${id}`); } catch (e) { status(`${kind}: lost the JobManager (${e.message})`, "bad"); return; }
      if (r.status.id === "COMPLETED") {
        if (r.operation && r.operation.location) status(`${kind} done: ${r.operation.location}`, "ok");
        else status(`${kind} failed: ${(r.operation && r.operation["failure-cause"] && r.operation["failure-cause"]["stack-trace"]) || "unknown cause"}`, "bad");
        return;
      }
      await new Promise((res) => setTimeout(res, 300));
    }
    status(`${kind}: no answer after 3 minutes`, "bad");
  }
  async function act(kind, fn) {
    status(kind + "…");
    try { await fn(); } catch (e) { status(`${kind}: ${e.message}`, "bad"); }
    tick(true);
  }
  function target() { return $("#sp-dir").value.trim() || null; }
  function wireActions() {
    const tok = $("#token");
    tok.value = sessionStorage.getItem("mpiflow.token") || "";
    tok.addEventListener("change", () => sessionStorage.setItem("mpiflow.token", tok.value.trim()));
    $("#btn-savepoint").addEventListener("click", () => act("savepoint", async () => {
      const r = await send("POST", `/jobs/${dash.jid}/savepoints`, { "target-directory": target(), "cancel-job": false });
      status(`savepoint triggered (${r["request-id"]})…`);
      await waitTrigger("savepoint", r["request-id"]);
    }));
    $("#btn-stop").addEventListener("click", () => act("stop", async () => {
      if (!confirm("Stop the job with a savepoint? Its sources halt, and the job ends once the savepoint is complete.")) { status(""); return; }
      const r = await send("POST", `/jobs/${dash.jid}/stop`, { targetDirectory: target(), drain: false });
      status(`stop triggered (${r["request-id"]})…`);
      await waitTrigger("stop", r["request-id"]);
    }));
    $("#btn-cancel").addEventListener("click", () => act("cancel", async () => {
      if (!confirm("Cancel the job? Nothing is saved, and uncommitted output is discarded.")) { status(""); return; }
      await send("PATCH", `/jobs/${dash.jid}?mode=cancel`);
      status("cancel requested", "ok");
    }));
    $("#net-metric").addEventListener("change", drawNetwork);
    $("#log-load").addEventListener("click", () => loadLog().catch((e) => { $("#log-text").textContent = String(e.message || e); }));
    $("#log-rank").addEventListener("change", () => loadLog().catch(() => {}));
    $("#subtasks-close").addEventListener("click", () => { dash.selected = null; $("#subtasks").hidden = true; });
  }

  function start() {
    $("#refresh-ms").textContent = String(REFRESH_MS);
    if (typeof Chart === "undefined" || typeof dagre === "undefined") {
      banner("The chart or graph library did not load: this page needs /assets/chart.umd.min.js and /assets/dagre.min.js from the same server.");
      return;
    }
    Chart.defaults.font.size = 11;
    dash.charts.rate = lineChart($("#rate-chart"), "records/s", (v) => si(v));
    dash.charts.lag = lineChart($("#lag-chart"), "lag", (v) => dur(v));
    dash.charts.ckpt = new Chart($("#ckpt-chart"), {
      data: { labels: [], datasets: [
        { type: "bar", label: "duration (ms)", data: [], yAxisID: "y", backgroundColor: "#2f6fb3" },
        { type: "line", label: "size", data: [], yAxisID: "size", borderColor: "#e67700", backgroundColor: "#e67700", pointRadius: 2, spanGaps: true },
      ] },
      options: {
        animation: false, responsive: true, maintainAspectRatio: false,
        scales: {
          x: { title: { display: true, text: "checkpoint id (purple: savepoint, red: failed)" } },
          y: { beginAtZero: true, position: "left", title: { display: true, text: "duration" }, ticks: { callback: (v) => dur(v) } },
          size: { beginAtZero: true, position: "right", grid: { drawOnChartArea: false }, title: { display: true, text: "state size" }, ticks: { callback: (v) => bytes(v) } },
        },
        plugins: { legend: { position: "bottom", labels: { boxWidth: 12 } } },
      },
    });
    wireActions();
    tick(true);
    setInterval(tick, REFRESH_MS);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
