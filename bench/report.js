#!/usr/bin/env node
// Renders docs/benchmarks.md from one `make bench` run:
//   node bench/report.js RESULTS.jsonl MACHINE.json > docs/benchmarks.md
// RESULTS.jsonl holds one line per measurement (see `record` in bench/run.sh), each with wrk's
// totals from bench/result.lua. Every ratio is against PM2 cluster measured in the same run.

"use strict";

const fs = require("node:fs");

const [resultsPath, machinePath] = process.argv.slice(2);
const results = fs
  .readFileSync(resultsPath, "utf8")
  .split("\n")
  .filter((line) => line.trim())
  .map((line) => JSON.parse(line));
const machine = JSON.parse(fs.readFileSync(machinePath, "utf8"));

const NAMES = {
  bare: "bare app (node alone)",
  pm2_fork: "PM2 fork",
  pm2_cluster: "PM2 cluster",
  corral_inherit: "corral inherit",
  corral_tcp: "corral tcp",
  corral_http: "corral http",
  nginx: "nginx → bare app(s)",
  haproxy: "HAProxy → bare app",
  hyper: "hyper alone → bare app",
};
const SHAPES = { keepalive: "keep-alive", close: "connection per request" };

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];

/** The figures of one measurement (a reload run, or all throughput rounds of one setup and
 * shape taken together), or null when it did not run. */
function figures(r) {
  const runs = r ? rounds(r).filter((x) => x.wrk) : [];
  if (!runs.length) return null;
  const sum = (f) => runs.reduce((n, x) => n + f(x.wrk), 0);
  const w = {};
  for (const k of ["requests", "duration_us", "connect", "read", "write", "timeout", "status"]) w[k] = sum((x) => x[k]);
  const socketErrors = w.connect + w.read + w.write + w.timeout;
  const perRound = runs.map((x) => x.wrk.requests / (x.wrk.duration_us / 1e6));
  return {
    requests: w.requests,
    rps: w.requests / (w.duration_us / 1e6),
    spread: [Math.min(...perRound), Math.max(...perRound)],
    failed: socketErrors + w.status,
    breakdown: `connect ${w.connect}, read ${w.read}, write ${w.write}, timeout ${w.timeout}, non-2xx ${w.status}`,
    p50ms: median(runs.map((x) => x.wrk.p50_us)) / 1000,
    p99ms: median(runs.map((x) => x.wrk.p99_us)) / 1000,
    // CPU the proxy process spent per request, µs (user, system); null when not measured.
    proxyCpu: runs.every((x) => x.proxyCpu)
      ? ["user", "sys"].map((k) => (runs.reduce((n, x) => n + x.proxyCpu[k], 0) * 1e6) / w.requests)
      : null,
  };
}

const same = (a, b) => a.scenario === b.scenario && a.setup === b.setup && a.instances === b.instances && a.shape === b.shape;
/** Every record of the measurement `r` belongs to (throughput has one per round). */
const rounds = (r) => results.filter((x) => same(x, r));

function find(scenario, setup, instances, shape) {
  return results.find((r) => same(r, { scenario, setup, instances, shape }));
}
/** One record per measurement, in the order they were first taken. */
const measurements = (scenario, shape) =>
  results.filter((r, i) => r.scenario === scenario && r.shape === shape && results.findIndex((x) => same(x, r)) === i);

/** The PM2 cluster measurement `r` is compared with: same scenario and shape, the same instance
 * count if PM2 cluster ran with it, else the nearest one that ran. */
function baselineOf(r) {
  const runs = results.filter((b) => b.scenario === r.scenario && b.setup === "pm2_cluster" && b.shape === r.shape);
  runs.sort((a, b) => Math.abs(a.instances - r.instances) - Math.abs(b.instances - r.instances));
  return runs[0];
}

const fmt = (n, digits = 0) => n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
const ratio = (a, b) => (a && b && b.rps > 0 ? `${(a.rps / b.rps).toFixed(2)}×` : "–");
/** "2.4 + 12.0": a proxy's user + system CPU µs per request. */
const cpu = (f) => (f.proxyCpu ? `${fmt(f.proxyCpu[0], 1)} + ${fmt(f.proxyCpu[1], 1)}` : "–");
const label = (r) => `${NAMES[r.setup] ?? r.setup} ×${r.instances}`;
/** "1.23× (×2)": requests/s of r over its PM2 cluster baseline's, and that baseline's instances. */
function versusPm2(r, f) {
  if (r.setup === "pm2_cluster") return "1.00×";
  const b = baselineOf(r);
  return b ? `${ratio(f, figures(b))} (×${b.instances})` : "–";
}

const out = [];
const p = (...lines) => out.push(...lines);

p(
  "# Benchmarks: corral and PM2 on the same Node app",
  "",
  `Measured by \`make bench\` (\`bench/run.sh\`) on ${machine.date}; corral at \`${machine.corral}\`.`,
  "This file is generated: run `make bench` again rather than editing it. Figures from one run on",
  "a small shared machine move by several percent from run to run; compare within a run.",
  "",
  "## Machine",
  "",
  "| | |",
  "|---|---|",
  `| CPUs (\`nproc\`) | ${machine.nproc} |`,
  `| CPU | ${machine.cpu} |`,
  `| kernel | ${machine.kernel} |`,
  `| Node | ${machine.node} |`,
  `| PM2 | ${machine.pm2} |`,
  `| wrk | ${machine.wrk} |`,
  `| nginx, HAProxy (reference proxies) | ${machine.nginx || "–"}, ${machine.haproxy || "–"} |`,
  `| load average (1, 5, 15 min) | ${machine.load ?? "not recorded"} |`,
  `| throughput and reloads took | ${machine.seconds} s |`,
  "",
  "## What is measured",
  "",
  "- The app is the demo `manifests/apps/web.js`: Node's `http` module answering",
  "  `GET /` with one line. It serves fd 3 under corral `inherit`, else `PORT`.",
  `- Load: \`wrk ${machine.wrkArgs}\` against 127.0.0.1, wrk on the same machine. **keep-alive** is wrk's`,
  "  default (50 connections reused); **connection per request** adds `-H 'Connection: close'`.",
  "- Every setup runs at the same time, each on its own port (idle ones cost next to nothing).",
  `  Throughput: ${machine.warmup} s of warm-up per setup and shape (not counted), then ${machine.rounds} rounds that`,
  `  each give every setup and shape ${machine.round} s of load in turn, so that other work on the machine`,
  "  weighs on all setups alike. requests/s is over all rounds; *rounds* shows the slowest and",
  "  fastest round, a measure of the noise; latencies are the median round's.",
  `- Reload under load: ${machine.reloadDuration} s of load; after 1 s, ${machine.reloads} reloads one after the other`,
  "  (each waited for, then 0.5 s pause): `pm2 reload web` for PM2, `corral reload web` then",
  "  `corral rollout status web -w` for corral.",
  "- **failed** = wrk's socket errors (connect, read, write, timeout > 5 s) + responses with a",
  "  status ≥ 400. A socket error is a request or connection attempt that got no response.",
  "- PM2 runs with its defaults (`kill_timeout` 1.6 s, SIGINT, `listen_timeout` 3 s); corral with a",
  "  readiness probe `GET /healthz` every 1 s and `stop.timeout` 5 s. Both on a private home.",
  "- **nginx → bare app**, **HAProxy → bare app** and **hyper alone → bare app** are not contenders",
  "  but yardsticks for `http` mode: HTTP reverse proxies in front of the bare app doing the job of",
  "  corral's proxy (nginx also with two bare apps, balanced: nginx ×2). nginx and HAProxy run one worker each with keep-alive to the",
  "  app; *hyper alone* is `bench/hyper_floor.rs`, a plain proxy built from hyper's server and",
  "  client (the HTTP library corral's proxy uses): one upstream connection per client connection,",
  "  messages passed through unchanged, no balancing, no retries.",
  "- **× PM2 cluster** divides requests/s by PM2 cluster's with the number of instances shown in",
  "  brackets (the same as the row's where PM2 cluster ran with it), same load shape, same run.",
  "",
);

// Targets first: the comparison this bench exists for.
const get = (scenario, setup, instances, shape) => figures(find(scenario, setup, instances, shape));
const targets = [];
{
  const ka = get("reload", "corral_http", 2, "keepalive");
  const cl = get("reload", "corral_http", 2, "close");
  targets.push([
    "`http` loses 0 requests during reloads, both load shapes",
    ka && cl ? `failed: ${ka.failed} keep-alive, ${cl.failed} per request` : "not measured",
    ka && cl ? ka.failed === 0 && cl.failed === 0 : null,
  ]);
  const inh = get("reload", "corral_inherit", 2, "close");
  targets.push([
    "`inherit` loses 0 requests during reloads, connection per request",
    inh ? `failed: ${inh.failed}` : "not measured",
    inh ? inh.failed === 0 : null,
  ]);
  for (const n of [2, 1]) {
    const a = get("throughput", "corral_inherit", n, "close");
    const b = get("throughput", "pm2_cluster", n, "close");
    targets.push([
      `\`inherit\` ×${n} per-request throughput ≥ 1.5× PM2 cluster ×${n}`,
      a && b ? `${fmt(a.rps)} vs ${fmt(b.rps)} req/s = ${ratio(a, b)}` : "not measured",
      a && b ? a.rps >= 1.5 * b.rps : null,
    ]);
  }
  for (const n of [1, 2]) {
    const a = get("throughput", "corral_http", n, "keepalive");
    const b = get("throughput", "nginx", n, "keepalive");
    targets.push([
      `\`http\` ×${n} keep-alive throughput ≥ 1.0× nginx ×${n} (one worker, keep-alive to the app${n > 1 ? "s" : ""})`,
      a && b ? `${fmt(a.rps)} vs ${fmt(b.rps)} req/s = ${ratio(a, b)}` : "not measured",
      a && b ? a.rps >= b.rps : null,
    ]);
  }
}
p("## Targets", "", "| target | measured | met |", "|---|---|---|");
for (const [what, measured, met] of targets) {
  p(`| ${what} | ${measured} | ${met === null ? "not measured" : met ? "yes" : "**no**"} |`);
}
p("");

// The http target next to what purpose-built proxies reach on the same machine, same run.
{
  const http = get("throughput", "corral_http", 1, "keepalive");
  const pm2 = get("throughput", "pm2_cluster", 1, "keepalive");
  const refs = ["nginx", "haproxy", "hyper"].map((s) => [s, get("throughput", s, 1, "keepalive")]).filter(([, f]) => f);
  if (http && pm2 && refs.length) {
    p(
      "### The `http` target next to other proxies (keep-alive, one app instance)",
      "",
      "| proxy in front of one instance | requests/s | × PM2 cluster ×1 | corral http ×1 ÷ this | proxy CPU µs/request (user + system) |",
      "|---|---:|---:|---:|---:|",
      `| corral http | ${fmt(http.rps)} | ${ratio(http, pm2)} | 1.00× | ${cpu(http)} |`,
      ...refs.map(([s, f]) => `| ${NAMES[s]} | ${fmt(f.rps)} | ${ratio(f, pm2)} | ${ratio(http, f)} | ${cpu(f)} |`),
      "",
      "*proxy CPU* is the user and system CPU time of the proxy's processes (corral's controller;",
      "nginx's master and worker) over the measured rounds, divided by the requests served: the",
      "kernel's share of proxying on loopback is about the same for all; the rest is the proxy's own.",
      "",
    );
  }
}

const notes = [];
function noteErrors(r) {
  if (r.error) notes.push(`- ${r.scenario}, ${label(r)}, ${SHAPES[r.shape]}: ${r.error}`);
}

for (const shape of ["keepalive", "close"]) {
  p(
    `## Throughput, ${SHAPES[shape]}`,
    "",
    "| setup | requests/s | rounds (req/s) | × PM2 cluster | p50 ms | p99 ms | failed |",
    "|---|---:|---:|---:|---:|---:|---:|",
  );
  for (const r of measurements("throughput", shape)) {
    rounds(r).forEach(noteErrors);
    const f = figures(r);
    if (!f) {
      p(`| ${label(r)} | not measured | | | | | |`);
      continue;
    }
    const base = versusPm2(r, f);
    const spread = `${fmt(f.spread[0])}–${fmt(f.spread[1])}`;
    p(`| ${label(r)} | ${fmt(f.rps)} | ${spread} | ${base} | ${fmt(f.p50ms, 2)} | ${fmt(f.p99ms, 2)} | ${fmt(f.failed)} |`);
  }
  p("");
}

for (const shape of ["keepalive", "close"]) {
  p(
    `## Reload under load, ${SHAPES[shape]}`,
    "",
    "| setup | requests | requests/s | × PM2 cluster | failed | of which | reloads (s each) |",
    "|---|---:|---:|---:|---:|---|---|",
  );
  for (const r of measurements("reload", shape)) {
    noteErrors(r);
    const f = figures(r);
    const times = r.reloads.length ? r.reloads.map((t) => t.toFixed(1)).join(", ") : "none";
    if (!f) {
      p(`| ${label(r)} | not measured | | | | | ${times} |`);
      continue;
    }
    const base = versusPm2(r, f);
    const failed = f.failed === 0 ? "0" : `**${fmt(f.failed)}**`;
    p(`| ${label(r)} | ${fmt(f.requests)} | ${fmt(f.rps)} | ${base} | ${failed} | ${f.breakdown} | ${times} |`);
  }
  p("");
}

p(
  "## Reading the numbers",
  "",
  "- wrk, the app instances and (for `tcp`/`http`) corral's proxy share the same CPUs, so a setup",
  "  that adds a process on the data path pays for it twice: its own CPU and less for the app.",
  "- PM2 cluster mode uses Node's `cluster` module: the PM2 master accepts every connection and",
  "  hands it to a worker over IPC, which is why its connection-per-request figures trail the",
  "  bare app's. corral `inherit` gives every instance the listening socket and the kernel spreads",
  "  connections; `tcp` and `http` put corral's proxy in between.",
  "- During a reload, an instance being stopped closes its keep-alive connections (the app's",
  "  `server.close()`), and a request in flight on one is a wrk read error; only `http` mode, whose",
  "  client connections belong to the controller, can hide that. Socket errors count attempts:",
  "  with no listener at all (PM2 fork mode between two processes) wrk retries in a tight loop and",
  "  the count grows with the length of the gap, not with the number of clients.",
  "",
);

if (notes.length) p("## Problems seen in this run", "", ...notes, "");

process.stdout.write(out.join("\n"));
