#!/usr/bin/env node
// corral's demo web app (also the app `make bench` measures): a plain Node http server, no deps.
//
// - Socket inheritance (corral `mode: inherit`, systemd socket activation): when LISTEN_FDS is
//   set for this process, it serves the listening socket it was given as fd 3.
// - Otherwise it listens on PORT (default 3000): corral `mode: tcp|http`, PM2, or bare `node`.
// - GET / answers `hello from instance N (pid P)`; GET /healthz answers 200 for probes.
// - Knobs for `make bench`'s canary part (bench/canary.sh), all off when unset: MARKER is added
//   to GET /'s answer (`… revision MARKER`) so that a client can tell revisions apart;
//   FAIL_PERCENT=N answers 500 to exactly N of every 100 GET / (evenly spread: 20 fails every
//   5th); DELAY_MS=N answers GET / N ms later. /healthz is never failed nor delayed.
// - On SIGTERM (corral) or SIGINT (PM2's default kill signal) it stops like most apps do:
//   `server.close()`, idle keep-alive connections closed, exit once in-flight requests are done.

"use strict";

const http = require("node:http");

const instance = process.env.CORRAL_INSTANCE ?? process.env.NODE_APP_INSTANCE ?? "0";
const pid = process.pid;
const marker = process.env.MARKER ? ` revision ${process.env.MARKER}` : "";
const failPercent = Math.min(100, Math.max(0, Number(process.env.FAIL_PERCENT) || 0));
const delayMs = Math.max(0, Number(process.env.DELAY_MS) || 0);
let served = 0; // GET / requests so far, for FAIL_PERCENT

// GET /: 500 for FAIL_PERCENT of the requests (request n fails when floor(n·N/100) steps up).
function hello(res) {
  served += 1;
  const fail = Math.floor((served * failPercent) / 100) > Math.floor(((served - 1) * failPercent) / 100);
  res.writeHead(fail ? 500 : 200, { "content-type": "text/plain" });
  res.end(`${fail ? "failure" : "hello"} from instance ${instance} (pid ${pid})${marker}\n`);
}

const server = http.createServer((req, res) => {
  if (req.method === "GET" && req.url === "/healthz") {
    res.writeHead(200, { "content-type": "text/plain" });
    res.end("ok\n");
  } else if (req.method === "GET" && req.url === "/") {
    if (delayMs > 0) setTimeout(hello, delayMs, res);
    else hello(res);
  } else {
    res.writeHead(404, { "content-type": "text/plain" });
    res.end("not found\n");
  }
});

// sd_listen_fds(): the fds are ours only if LISTEN_PID is unset or names this process.
const inherited =
  Number(process.env.LISTEN_FDS) >= 1 &&
  (!process.env.LISTEN_PID || Number(process.env.LISTEN_PID) === pid);

if (inherited) {
  server.listen({ fd: 3 }, () => console.log(`instance ${instance} (pid ${pid}) serving inherited fd 3`));
} else {
  const port = Number(process.env.PORT) || 3000;
  server.listen(port, "127.0.0.1", () =>
    console.log(`instance ${instance} (pid ${pid}) listening on 127.0.0.1:${port}`),
  );
}

let stopping = false;
function stop(signal) {
  if (stopping) return;
  stopping = true;
  console.log(`instance ${instance} (pid ${pid}) got ${signal}, closing`);
  server.close(() => process.exit(0));
  if (typeof server.closeIdleConnections === "function") server.closeIdleConnections();
}
process.on("SIGTERM", () => stop("SIGTERM"));
process.on("SIGINT", () => stop("SIGINT"));
