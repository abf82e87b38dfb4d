import { CliError, ExitCode } from './output.js'

/** A flag's one value from a fixed list; undefined when the flag is absent; anything else is bad usage. */
export function oneOf<T extends string>(
  flag: string,
  value: string | undefined,
  known: readonly T[]
): T | undefined {
  if (value === undefined) return undefined
  const found = known.find((candidate) => candidate === value)
  if (!found) {
    throw new CliError(
      `${flag} must be one of ${known.join(', ')} (got "${value}")`,
      ExitCode.usage
    )
  }
  return found
}

/**
 * The names a repeatable flag picks (`--check a --check b`), in `known`'s
 * order; undefined when the flag is absent. An unknown name is bad usage.
 */
export function someOf<T extends string>(
  what: string,
  given: string[] | undefined,
  known: readonly T[]
): T[] | undefined {
  if (given === undefined) return undefined
  const unknown = given.filter((name) => !known.some((candidate) => candidate === name))
  if (unknown.length > 0) {
    throw new CliError(
      `Unknown ${what} ${unknown.map((name) => `"${name}"`).join(', ')} (one of: ${known.join(', ')})`,
      ExitCode.usage
    )
  }
  return known.filter((name) => given.includes(name))
}
