// Runs the snapkb Worker bundle under workerd through Miniflare's API, with R2 and D1
// simulated on disk: the same runtime `wrangler dev` uses. Prints
// `snapkb-worker listening on <url>` once it answers, and stops on SIGTERM/SIGINT.
//
//   node infra/edge/worker-serve.mjs --bundle target/edge/worker --persist DIR [--port N]
//       [--var NAME=VALUE]...
//
// Miniflare comes from infra/edge/npm (installed by infra/edge/worker-tools.sh).
import { createRequire } from "node:module";
import path from "node:path";
import process from "node:process";

const args = process.argv.slice(2);
const options = { bundle: "target/edge/worker", persist: null, port: 0, vars: {} };
for (let i = 0; i < args.length; i += 2) {
  const [flag, value] = [args[i], args[i + 1]];
  if (value === undefined) throw new Error(`${flag} needs a value`);
  if (flag === "--bundle") options.bundle = value;
  else if (flag === "--persist") options.persist = value;
  else if (flag === "--port") options.port = Number(value);
  else if (flag === "--var") {
    const at = value.indexOf("=");
    options.vars[value.slice(0, at)] = value.slice(at + 1);
  } else throw new Error(`unknown flag ${flag}`);
}
if (!options.persist) throw new Error("--persist DIR is required");

const npm = process.env.SNAPKB_EDGE_NPM ?? path.join(process.env.SNAPKB_TOOLS ?? path.join(process.env.HOME, ".cache/snapkb-tools"), "npm-edge");
const { Miniflare, Log, LogLevel } = createRequire(path.join(npm, "package.json"))("miniflare");

const bundle = path.resolve(options.bundle);
const mf = new Miniflare({
  modules: true,
  scriptPath: path.join(bundle, "shim.mjs"),
  modulesRoot: bundle,
  modulesRules: [
    { type: "ESModule", include: ["**/*.js", "**/*.mjs"] },
    { type: "CompiledWasm", include: ["**/*.wasm"] },
  ],
  // The `cf` request object is fetched from Cloudflare by default; tests run offline.
  cf: false,
  // GET /cdn-cgi/handler/scheduled runs the cron trigger (the sweep) on demand.
  unsafeTriggerHandlers: true,
  compatibilityDate: "2025-09-01",
  r2Buckets: ["SNAPKB_BUCKET"],
  d1Databases: ["SNAPKB_DB"],
  r2Persist: path.join(options.persist, "r2"),
  d1Persist: path.join(options.persist, "d1"),
  bindings: options.vars,
  host: "127.0.0.1",
  port: options.port,
  log: new Log(LogLevel.WARN),
});
const url = await mf.ready;
console.log(`snapkb-worker listening on ${url.origin}`);

const stop = async () => {
  await mf.dispose();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
