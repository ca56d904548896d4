#!/usr/bin/env node
/**
 * @module cli/bin
 * The `gatehouse` executable (published as `dist/cli/bin.js`): hands the arguments to the
 * CLI and exits with its status.
 */
import { main } from './main.ts'

const code = await main(process.argv.slice(2), process)
process.exitCode = code
// A finished command must not be held open by a stray handle (a keep-alive socket, a timer in
// a dependency); the unref'd timer fires only if something lingers.
setTimeout(() => process.exit(code), 2_000).unref()
