/*
| The machine a benchmark ran on: cores, CPU model, RAM, Node and PostgreSQL.
*/

import { readFileSync } from 'node:fs'
import { availableParallelism, cpus, totalmem } from 'node:os'

export function cpuModel() {
  try {
    const info = readFileSync('/proc/cpuinfo', 'utf8')
    return /model name\s*:\s*(.+)/.exec(info)?.[1]?.trim() ?? cpus()[0]?.model ?? 'unknown'
  } catch {
    return cpus()[0]?.model ?? 'unknown'
  }
}

/** "2 cores (nproc), <cpu>, 23.5 GiB RAM, Node v24…, PostgreSQL 15.20 …" */
export function describeMachine(postgres: string) {
  return `${availableParallelism()} cores (nproc), ${cpuModel()}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, Node ${process.version}, PostgreSQL ${postgres}`
}

/** The server version of the database the app is connected to (booted app). */
export async function postgresVersion(): Promise<string> {
  const { default: db } = await import('@adonisjs/lucid/services/db')
  const version = await db.rawQuery<{ rows: { server_version: string }[] }>('SHOW server_version')
  return version.rows[0].server_version
}

/** Load average over the last minute (a caveat for every figure on a shared machine). */
export function loadAverage() {
  try {
    return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')
  } catch {
    return 'unknown'
  }
}

/** CPU seconds (user + system) of a process from /proc, or of this one. */
export function cpuSeconds(pid: number | null = null) {
  if (pid === null) {
    const usage = process.cpuUsage()
    return (usage.user + usage.system) / 1e6
  }
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
    return (Number(fields[11]) + Number(fields[12])) / 100
  } catch {
    return 0
  }
}
