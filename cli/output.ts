import Table from 'cli-table3'

/**
 * Exit codes of every command (documented in the README):
 * 0 ok, 1 failed, 2 bad usage, 3 partial / needs attention.
 */
export const ExitCode = { ok: 0, failed: 1, usage: 2, partial: 3 } as const

/** An error meant for the operator: one line saying what to do, and an exit code. */
export class CliError extends Error {
  constructor(
    message: string,
    public exitCode: number = ExitCode.failed
  ) {
    super(message)
  }
}

export type Column<Row> = {
  header: string
  value: (row: Row) => string | number | null | undefined
}

/** Output helpers shared by all commands: tables for people, JSON for scripts. */
export class Output {
  constructor(
    protected stdout: NodeJS.WriteStream = process.stdout,
    protected stderr: NodeJS.WriteStream = process.stderr
  ) {}

  line(text = '') {
    this.stdout.write(`${text}\n`)
  }

  warn(text: string) {
    this.stderr.write(`${text}\n`)
  }

  json(value: unknown) {
    this.stdout.write(`${JSON.stringify(value, null, 2)}\n`)
  }

  /** A table; plain (no colours) when stdout is not a terminal. */
  table<Row>(rows: Row[], columns: Column<Row>[]) {
    const plain = !this.stdout.isTTY
    const table = new Table({
      head: columns.map((column) => column.header),
      style: plain ? { head: [], border: [] } : undefined,
    })
    for (const row of rows) {
      table.push(columns.map((column) => String(column.value(row) ?? '')))
    }
    this.line(table.toString())
  }
}
