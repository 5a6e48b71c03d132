#!/usr/bin/env node
// corral's demo web app (also the app `make bench` measures): a plain Node http server, no deps.
//
// - Socket inheritance (corral `mode: inherit`, systemd socket activation): when LISTEN_FDS is
//   set for this process, it serves the listening socket it was given as fd 3.
// - Otherwise it listens on PORT (default 3000): corral `mode: tcp|http`, PM2, or bare `node`.
// - GET / answers `hello from instance N (pid P)`; GET /healthz answers 200 for probes.
// - On SIGTERM (corral) or SIGINT (PM2's default kill signal) it stops like most apps do:
//   `server.close()`, idle keep-alive connections closed, exit once in-flight requests are done.

"use strict";

const http = require("node:http");

const instance = process.env.CORRAL_INSTANCE ?? process.env.NODE_APP_INSTANCE ?? "0";
const pid = process.pid;

const server = http.createServer((req, res) => {
  if (req.method === "GET" && req.url === "/healthz") {
    res.writeHead(200, { "content-type": "text/plain" });
    res.end("ok\n");
  } else if (req.method === "GET" && req.url === "/") {
    res.writeHead(200, { "content-type": "text/plain" });
    res.end(`hello from instance ${instance} (pid ${pid})\n`);
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
