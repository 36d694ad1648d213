#!/usr/bin/env node
// A fault-injecting HTTP/1.1 reverse proxy for tests: between a client and one real server on 127.0.0.1, it passes
// requests through unchanged (Host included, so signatures and the URLs servers build from Host stay valid) and, for a
// share of them chosen by a seeded random generator, answers 503 or 500 itself, resets the connection in the middle
// of the request body or of the answer's body, or delays the answer. It can also hold every connection silent (stall).
//   node fault-proxy.js LISTEN_PORT UPSTREAM_PORT CONTROL_PORT [SEED]
// Control (JSON over HTTP on 127.0.0.1:CONTROL_PORT):
//   POST /config {"p503":0.05,"p500":0.02,"resetRequest":0.03,"resetResponse":0.04,"delay":0.05,"maxDelayMs":1500,"stall":false,
//                 "fail503": {"/auth/v1.0": 2}, "wrongEtagOnPut": false}
//     fail503: the next N requests whose path starts with a prefix are answered 503 (a busy auth endpoint);
//     wrongEtagOnPut: answers to PUT carry another ETag than the server's (a server that stored other bytes).
//   GET  /stats  -> {"requests":N,"p503":N,"p500":N,"resetRequest":N,"resetResponse":N,"delay":N,"stalled":N}
// Faults start at 0 (a transparent proxy) until configured.
"use strict";
const http = require("http");
const [listenPort, upstreamPort, controlPort] = process.argv.slice(2, 5).map(Number);
let seed = Number(process.argv[5] || 1) >>> 0;
if (!listenPort || !upstreamPort || !controlPort) {
  console.error("usage: fault-proxy.js LISTEN_PORT UPSTREAM_PORT CONTROL_PORT [SEED]");
  process.exit(2);
}
// mulberry32: small, seeded, good enough to pick faults.
function random() {
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
let config = { p503: 0, p500: 0, resetRequest: 0, resetResponse: 0, delay: 0, maxDelayMs: 1500, stall: false, fail503: {}, wrongEtagOnPut: false };
const stats = { requests: 0, p503: 0, p500: 0, resetRequest: 0, resetResponse: 0, delay: 0, stalled: 0, failed503: 0, wrongEtag: 0 };
const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
const stalled = new Set();

function pick(hasBody) {
  let r = random();
  for (const kind of ["p503", "p500", "resetRequest", "resetResponse", "delay"]) {
    if (kind === "resetRequest" && !hasBody) continue;
    if (r < config[kind]) return kind;
    r -= config[kind];
  }
  return "pass";
}

// As a load balancer in front of the server would answer: plain text, whatever the server's own error format.
function answer(res, status) {
  const body = `${status === 503 ? "Service Unavailable" : "Internal Server Error"} (injected by fault-proxy)\n`;
  res.writeHead(status, { "Content-Type": "text/plain", "Content-Length": Buffer.byteLength(body), "Connection": "close" });
  res.end(body);
}

const proxy = http.createServer((req, res) => {
  stats.requests++;
  if (config.stall) {
    // Hold the request silent: read nothing more, answer nothing, until the client gives up or the stall ends.
    stats.stalled++;
    console.log(`stalled ${req.method} ${req.url}`);
    stalled.add(req.socket);
    req.socket.once("close", () => stalled.delete(req.socket));
    req.pause();
    return;
  }
  for (const prefix of Object.keys(config.fail503 || {})) {
    if (config.fail503[prefix] > 0 && req.url.startsWith(prefix)) {
      config.fail503[prefix]--;
      stats.failed503++;
      req.resume();
      req.on("end", () => answer(res, 503));
      return;
    }
  }
  const length = Number(req.headers["content-length"] || 0);
  const fault = pick(length > 0 || req.headers["transfer-encoding"] !== undefined);
  if (fault === "p503" || fault === "p500") {
    stats[fault]++;
    req.resume();
    req.on("end", () => answer(res, fault === "p503" ? 503 : 500));
    return;
  }
  if (fault === "resetRequest") {
    // Take part of the body, then drop the connection: the server never sees the request.
    stats.resetRequest++;
    let got = 0;
    req.on("data", (chunk) => {
      got += chunk.length;
      if (got >= Math.max(1, length / 2)) req.socket.destroy();
    });
    req.on("end", () => req.socket.destroy());
    return;
  }
  const headers = {};
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i];
    if (name.toLowerCase() === "connection" || name.toLowerCase() === "keep-alive") continue;
    headers[name] = headers[name] === undefined ? req.rawHeaders[i + 1] : [].concat(headers[name], req.rawHeaders[i + 1]);
  }
  const up = http.request({ host: "127.0.0.1", port: upstreamPort, method: req.method, path: req.url, headers, agent }, (ur) => {
    const go = () => {
      const raw = [];
      for (let i = 0; i < ur.rawHeaders.length; i += 2) {
        const name = ur.rawHeaders[i].toLowerCase();
        if (name === "connection" || name === "keep-alive") continue;
        if (name === "etag" && config.wrongEtagOnPut && req.method === "PUT") {
          stats.wrongEtag++;
          raw.push(ur.rawHeaders[i], '"0123456789abcdef0123456789abcdef"');
          continue;
        }
        raw.push(ur.rawHeaders[i], ur.rawHeaders[i + 1]);
      }
      const total = Number(ur.headers["content-length"] || 0);
      if (fault === "resetResponse" && total >= 2 && req.method !== "HEAD") {
        stats.resetResponse++;
        res.writeHead(ur.statusCode, ur.statusMessage, raw);
        let sent = 0;
        ur.on("data", (chunk) => {
          if (sent >= total / 2) return;
          const room = Math.ceil(total / 2) - sent;
          res.write(chunk.subarray(0, Math.min(room, chunk.length)));
          sent += Math.min(room, chunk.length);
          if (sent >= total / 2) setTimeout(() => { res.socket && res.socket.destroy(); ur.destroy(); }, 10);
        });
        return;
      }
      res.writeHead(ur.statusCode, ur.statusMessage, raw);
      ur.pipe(res);
    };
    if (fault === "delay") {
      stats.delay++;
      setTimeout(go, Math.floor(random() * config.maxDelayMs));
    } else {
      go();
    }
  });
  up.on("error", () => res.socket && res.socket.destroy());
  req.pipe(up);
  req.on("aborted", () => up.destroy());
});
proxy.keepAliveTimeout = 4000;
proxy.headersTimeout = 0;
proxy.requestTimeout = 0;
proxy.listen(listenPort, "127.0.0.1");

http.createServer((req, res) => {
  let body = "";
  req.on("data", (c) => (body += c));
  req.on("end", () => {
    if (req.method === "POST" && req.url === "/config") {
      config = { ...config, ...JSON.parse(body || "{}") };
      if (!config.stall) {
        // End the silence: connections held so far are closed (their clients have given up or will retry).
        for (const s of stalled) s.destroy();
        stalled.clear();
      }
    } else if (req.url === "/reset") {
      for (const k of Object.keys(stats)) stats[k] = 0;
    }
    res.writeHead(200, { "Content-Type": "application/json" });
    res.end(JSON.stringify({ config, stats }));
  });
}).listen(controlPort, "127.0.0.1", () => console.log(`fault-proxy on 127.0.0.1:${listenPort} -> ${upstreamPort}, control ${controlPort}`));
