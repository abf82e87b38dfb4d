/*
| Each benchmark writes its headline figures to tmp/bench/results/<name>.json;
| bench/all.ts gathers them into one summary table.
*/

import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { ROOT } from './processes.js'

export interface ResultRow {
  benchmark: string
  figure: string
  target: string
  met: boolean | null
}

export interface BenchResult {
  name: string
  rows: ResultRow[]
  machine: string
  load: string
  at: string
}

export const RESULTS_DIR = join(ROOT, 'tmp', 'bench', 'results')

export function writeResult(result: Omit<BenchResult, 'at'>) {
  mkdirSync(RESULTS_DIR, { recursive: true })
  const full: BenchResult = { ...result, at: new Date().toISOString() }
  writeFileSync(join(RESULTS_DIR, `${result.name}.json`), JSON.stringify(full, null, 2) + '\n')
  return full
}
