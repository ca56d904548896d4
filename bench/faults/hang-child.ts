/**
 * @module bench/faults/hang-child
 * Runs {@link runHang} in a process of its own and prints its result as one JSON line, so a
 * test can bound it with a kill: on a heavily loaded machine the hang run's process has been
 * seen to stay busy after its work (cause not found yet), and it must not hold up the suite.
 * Usage: node hang-child.ts '<HangOptions as JSON>'
 */
import { type HangOptions, runHang } from './hang.ts'

const options = JSON.parse(process.argv[2]!) as HangOptions
const result = await runHang(options)
process.stdout.write(`${JSON.stringify({ result })}\n`, () => process.exit(0))
