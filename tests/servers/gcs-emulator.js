#!/usr/bin/env node
// Google's Cloud Storage emulator (npm firebase-tools, pinned in package.json), started without the Java rules
// runtime it cannot have here (see ../../../shared/TEST-SERVERS.md):
//   node gcs-emulator.js PORT STATE_DIR     -> GCS JSON API on http://127.0.0.1:PORT (STORAGE_EMULATOR_HOST)
// The rules runtime's start/stop are stubbed and every ruleset allows all; the JSON API routes use the admin layer
// and never consult rules anyway. Two of the emulator's own quirks are smoothed here, the rest left for the
// client to meet as it is:
//   - objects.patch and objects.rewrite/copyTo are mounted only under /b/..., not /storage/v1/b/... (those answer
//     501): such requests are rewritten to the mounted path.
//   - its upload staging folder is $TMPDIR/firebase/storage/blobs, shared by every emulator on the machine and
//     deleted at stop: TMPDIR is pointed at STATE_DIR so two emulators do not share (or delete) each other's.
"use strict";
const path = require("path");
const fs = require("fs");
const port = Number(process.argv[2]);
const state = path.resolve(process.argv[3] || ".");
if (!port) {
  console.error("usage: gcs-emulator.js PORT STATE_DIR");
  process.exit(2);
}
fs.mkdirSync(path.join(state, "tmp"), { recursive: true });
process.env.TMPDIR = path.join(state, "tmp");

const lib = path.join(__dirname, "node_modules", "firebase-tools", "lib", "emulator");
const { StorageRulesRuntime } = require(path.join(lib, "storage", "rules", "runtime"));
const server = require(path.join(lib, "storage", "server"));
const { EmulatorRegistry } = require(path.join(lib, "registry"));
const { StorageEmulator } = require(path.join(lib, "storage", "index"));
const express = require(path.join(__dirname, "node_modules", "express"));

// No Java rules runtime: an allow-all ruleset that never calls it.
StorageRulesRuntime.prototype.start = async function () { this._alive = true; };
StorageRulesRuntime.prototype.stop = async function () { this._alive = false; };
StorageRulesRuntime.prototype.loadRuleset = async function () {
  return {
    ruleset: { verify: async () => ({ permitted: true }), unload: async () => {} },
    issues: { errors: [], warnings: [], exist: () => false, all: [] },
  };
};

// objects.patch and rewrite/copyTo exist only at /b/...: rewrite /storage/v1/b/... for those two.
const createApp = server.createApp;
server.createApp = async (projectId, emulator) => {
  const inner = await createApp(projectId, emulator);
  const outer = express();
  outer.disable("x-powered-by");
  outer.use((req, res, next) => {
    const p = req.url.split("?")[0];
    if (p.startsWith("/storage/v1/b/") && (req.method === "PATCH" || /\/o\/[^/]+\/(rewriteTo|copyTo)\/b\//.test(p))) {
      req.url = req.url.slice("/storage/v1".length);
    }
    inner(req, res, next);
  });
  return outer;
};

const rulesFile = path.join(state, "storage.rules");
fs.writeFileSync(rulesFile, "rules_version = '2';\nservice firebase.storage { match /b/{bucket}/o { match /{all=**} { allow read, write: if true; } } }\n");
const emulator = new StorageEmulator({
  projectId: "demo-test",
  host: "127.0.0.1",
  port,
  auto_download: false,
  rules: { name: rulesFile, content: fs.readFileSync(rulesFile, "utf8") },
});

EmulatorRegistry.start(emulator).then(
  () => console.log(`gcs emulator (firebase-tools storage) listening on http://127.0.0.1:${port}`),
  (e) => { console.error(`gcs emulator did not start: ${e && e.stack || e}`); process.exit(1); });

for (const sig of ["SIGINT", "SIGTERM"]) {
  process.on(sig, () => { emulator.stop().finally(() => process.exit(0)); setTimeout(() => process.exit(0), 2000).unref(); });
}
