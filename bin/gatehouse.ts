#!/usr/bin/env node
/**
 * The `gatehouse` executable: hands the arguments to the CLI and exits with its status.
 */
import { main } from '../src/cli/main.ts'

const code = await main(process.argv.slice(2), process)
process.exitCode = code
// A command that has finished must not be held open by a stray handle (a keep-alive socket,
// a pending timer in a dependency); the unref'd timer fires only if something lingers.
setTimeout(() => process.exit(code), 2_000).unref()
