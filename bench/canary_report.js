#!/usr/bin/env node
// Renders bench/canary.sh's section of docs/benchmarks.md:
//   node bench/canary_report.js RUNS.jsonl < META.json > section.md
// RUNS.jsonl: one line per run (round, strategy, wrk: bench/canary.lua's RESULT, changeMs,
// doneMs, abortMs, abortMessage, error); META.json: the settings of the run.

"use strict";

const fs = require("node:fs");

const runs = fs
  .readFileSync(process.argv[2], "utf8")
  .split("\n")
  .filter((line) => line.trim())
  .map((line) => JSON.parse(line));
const meta = JSON.parse(fs.readFileSync(0, "utf8"));

const find = (round, strategy) => runs.find((r) => r.round === round && r.strategy === strategy);
const failed = (w) => w.connect + w.read + w.write + w.timeout + w.status;
const secs = (ms) => `${(ms / 1000).toFixed(1)} s`;
const pct = (n, of) => (of ? `${((100 * n) / of).toFixed(n && n < of / 100 ? 2 : 1)}%` : "–");
const STRATEGY = { rolling: "RollingUpdate", canary: "Canary" };
const ROUND = {
  errors: "20% of answers 500",
  latency: `${meta.delayMs} ms slower`,
};

/** When the first bad answer reached a client: a 500 (errors), else the bad revision's first answer. */
const firstBad = (r) => (r.round === "errors" ? r.wrk.first5xxMs : r.wrk.firstMarkedMs) || r.wrk.firstMarkedMs;
const lastBad = (r) => (r.round === "errors" ? r.wrk.last5xxMs : r.wrk.lastMarkedMs) || r.wrk.lastMarkedMs;
/** What clients got from the bad revision that they should not have: failed requests
 * (errors), answers of the slow revision (latency). */
const harm = (r) => (r.round === "errors" ? failed(r.wrk) : r.wrk.marked);

/** Time from the first bad answer to the rollback, as a cell; null when not caught. */
function caught(r) {
  const first = firstBad(r);
  if (r.strategy === "rolling") {
    const all = r.doneMs && first ? `; on all ${meta.instances} instances ${secs(r.doneMs - first)} after it` : "";
    return { cell: `never (no rollback${all})`, s: null };
  }
  if (!r.abortMs) return { cell: `not caught within ${meta.window} s`, s: null };
  if (!first) return { cell: `aborted ${secs(r.abortMs - r.changeMs)} after the change, before any bad answer`, s: 0 };
  const s = (r.abortMs - first) / 1000;
  const last = lastBad(r);
  const tail = !last ? "" : last >= r.abortMs ? `; last bad answer ${secs(last - r.abortMs)} after it` : `; last bad answer ${secs(r.abortMs - last)} before it`;
  return { cell: `${s.toFixed(1)} s${tail}`, s };
}

function badRow(r) {
  if (!r.wrk) return `| ${ROUND[r.round]} | ${STRATEGY[r.strategy]} | – | – | – | – | – | run failed: ${r.error} |`;
  const w = r.wrk;
  const breakdown = `socket errors ${w.connect + w.read + w.write + w.timeout}, non-2xx ${w.status}`;
  return (
    `| ${ROUND[r.round]} | ${STRATEGY[r.strategy]} | ${w.requests} | ${failed(w)} (${breakdown}) | ` +
    `${w.marked} (${pct(w.marked, w.requests)}) | ${caught(r).cell} | ` +
    `${(w.p50_us / 1000).toFixed(1)} / ${(w.p99_us / 1000).toFixed(1)} ms | ${[weights(r).trim(), r.error].filter(Boolean).join("; ")} |`
  );
}

/** The target line of a round: caught within 30 s, at most a tenth of the rolling update's harm. */
function verdict(round) {
  const rolling = find(round, "rolling");
  const canary = find(round, "canary");
  if (!canary || !canary.wrk) return `- ${ROUND[round]}: the canary run did not run.`;
  const what = round === "errors" ? "failed requests" : "answers of the slow revision";
  const c = caught(canary);
  const inTime = c.s !== null && c.s <= 30;
  let line = `- ${ROUND[round]}: ${c.s === null ? c.cell : `caught in ${c.s.toFixed(1)} s`} (target ≤ 30 s: ${inTime ? "met" : "missed"})`;
  if (rolling && rolling.wrk) {
    const ratio = harm(rolling) ? harm(canary) / harm(rolling) : null;
    const r = ratio === null ? "–" : `${ratio.toFixed(3)}×`;
    line += `; ${what}: ${harm(canary)} with the canary vs ${harm(rolling)} with the rolling update = ${r} (target ≤ 0.1×: ${ratio !== null && ratio <= 0.1 ? "met" : "missed"})`;
  } else {
    line += `; ${what}: ${harm(canary)} (no rolling run to compare in this run)`;
  }
  return `${line}.`;
}

/** The canary's course from its events: "10% at 0.4 s, 50% at 5.5 s, promoted at 10.6 s". */
function weights(r) {
  const at = (e) => `${((e.atMs - r.changeMs) / 1000).toFixed(1)} s`;
  const course = (r.steps || [])
    .map((e) => {
      const w = /weight (\d+)%/.exec(e.message);
      if (e.reason === "CanaryWeight" && w) return `${w[1]}% at ${at(e)}`;
      if (e.reason === "CanaryPromoted") return `promoted at ${at(e)}`;
      if (e.reason === "RolloutAborted") return `aborted at ${at(e)}`;
      if (e.reason === "RolloutComplete") return `complete at ${at(e)}`;
      return null;
    })
    .filter(Boolean);
  return course.length ? ` (after the change: ${course.join(", ")})` : "";
}

const bad = runs.filter((r) => r.round !== "good");
const good = find("good", "canary");
const aborts = bad.filter((r) => r.abortMessage);
const goodRow = (() => {
  if (!good) return "| – | – | – | – | not run |";
  if (!good.wrk) return `| – | – | – | – | run failed: ${good.error} |`;
  const w = good.wrk;
  const outcome = good.abortMs
    ? `**aborted** ${secs(good.abortMs - good.changeMs)} after the change: ${good.abortMessage}`
    : good.doneMs
      ? `promoted ${secs(good.doneMs - good.changeMs)} after the change${weights(good)}`
      : good.error;
  return `| ${w.requests} | ${failed(w)} (non-2xx ${w.status}) | ${w.marked} (${pct(w.marked, w.requests)}) | ${(w.p50_us / 1000).toFixed(1)} / ${(w.p99_us / 1000).toFixed(1)} ms | ${outcome} |`;
})();

const pauses = `setWeight 10, pause ${meta.pause}, setWeight 50, pause ${meta.pause}, setWeight 100`;
const window = meta.quick
  ? `up to ${meta.window} s of load after the change (a canary's ends 1 s after its abort, the rolling update's after 4 s)`
  : `${meta.window} s of load after the change, alike for every run`;
console.log(`## Canary vs rolling update: a bad revision under load

${meta.date}, \`bench/canary.sh\` at ${meta.commit}${meta.quick ? " (BENCH_QUICK: a smoke run, the figures mean nothing)" : ""}.
The demo app ×${meta.instances} in \`mode: http\` under wrk ${meta.wrkArgs} (keep-alive) is rolled
out to a bad revision ${meta.lead} s into the load, ${window}:

- (a) \`RollingUpdate\`, maxSurge 1, maxUnavailable 0;
- (b) \`Canary\`: ${pauses}; analysis every ${meta.interval} over at least ${meta.minRequests} canary
  requests, maxErrorRate 1 (the default), maxLatencyRatio 2.

The slow revision waits ${meta.delayMs} ms before answering: 2 × the stable revision's p95 under
the same load as clients see it, measured first (p50 ${(meta.baseP50Us / 1000).toFixed(1)} ms, p95 ${(meta.baseP95Us / 1000).toFixed(1)} ms; most
of it is queueing in wrk and the proxy on a shared machine: the analysis compares the apps' own
answer times, as the abort messages below show).
Failed = wrk's socket errors + non-2xx answers. The bad revision's answers are counted by the
revision web.js writes in the body; the first bad answer is the first 500 (in the latency round
the slow revision's first answer); the rollback is the \`RolloutAborted\` event. Target: the
canary catches both within 30 s, and clients get at most a tenth of what the rolling update lets
through.

| new revision | strategy | requests | failed | answered by the bad revision | first bad answer → rollback | client latency p50 / p99 | notes |
|---|---|---:|---|---:|---|---:|---|
${bad.map(badRow).join("\n")}

${["errors", "latency"].filter((round) => find(round, "canary")).map(verdict).join("\n")}
${aborts.length ? `\nWhat decided each abort (the \`RolloutAborted\` event):\n\n${aborts.map((r) => `- ${ROUND[r.round]}: ${r.abortMessage}`).join("\n")}\n` : ""}
A good revision through every step (${pauses.replaceAll(meta.pause, meta.goodPause)}; the same
analysis), then promoted, under the same load; target 0 failed:

| requests | failed | answered by the new revision | client latency p50 / p99 | outcome |
|---:|---|---:|---:|---|
${goodRow}`);
