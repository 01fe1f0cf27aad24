#!/usr/bin/env node
// Runs a wasm32-wasip1 program (e.g. a `cargo test` binary) under Node's WASI, passing its
// arguments and exit code through. Used as CARGO_TARGET_WASM32_WASIP1_RUNNER by
// infra/dev/wasm-test.sh. Only the current directory is visible to the program.
import { readFile } from 'node:fs/promises';
import { WASI } from 'node:wasi';
import process from 'node:process';

const [file, ...rest] = process.argv.slice(2);
if (!file) {
  console.error('usage: wasi-run.mjs PROGRAM.wasm [ARGS...]');
  process.exit(2);
}
const wasi = new WASI({
  version: 'preview1',
  args: [file, ...rest],
  env: { RUST_BACKTRACE: process.env.RUST_BACKTRACE ?? '0' },
  preopens: { '.': process.cwd() },
  returnOnExit: true,
});
const module = await WebAssembly.compile(await readFile(file));
const instance = await WebAssembly.instantiate(module, wasi.getImportObject());
process.exitCode = wasi.start(instance);
