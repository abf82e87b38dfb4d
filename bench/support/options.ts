/*
| Command-line options shared by the benchmarks: `--name` flags and
| `--name value` options.
*/

/** Whether `--name` was given. */
export function flag(name: string, argv: string[] = process.argv) {
  return argv.includes(`--${name}`)
}

/** The value after `--name`, or the fallback. */
export function option(name: string, fallback: string, argv: string[] = process.argv) {
  const index = argv.indexOf(`--${name}`)
  return index < 0 ? fallback : (argv[index + 1] ?? fallback)
}

/** A whole number > 0 after `--name`, or the fallback. */
export function count(name: string, fallback: number, argv: string[] = process.argv) {
  const index = argv.indexOf(`--${name}`)
  if (index < 0) return fallback
  const value = Number(argv[index + 1])
  if (!Number.isInteger(value) || value <= 0) throw new Error(`--${name} needs a whole number`)
  return value
}
