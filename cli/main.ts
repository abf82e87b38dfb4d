/*
|--------------------------------------------------------------------------
| Studio Billing operator CLI (`npm run cli -- <command>`)
|--------------------------------------------------------------------------
|
| Commands are thin adapters over the app's services: parse options, call
| one service, print a table (or --json), set the exit code. Exit codes:
| 0 ok, 1 failed, 2 bad usage, 3 partial / needs attention.
|
*/

import { Command, CommanderError } from 'commander'
import type { ApplicationService } from '@adonisjs/core/types'
import { bootApp } from './app.js'
import { CliError, ExitCode, Output } from './output.js'
import * as users from './commands/users.js'
import * as customers from './commands/customers.js'
import * as credits from './commands/credits.js'
import * as webhooks from './commands/webhooks.js'
import * as subscriptions from './commands/subscriptions.js'
import * as payouts from './commands/payouts.js'
import * as earnings from './commands/earnings.js'
import * as agents from './commands/agents.js'
import * as usage from './commands/usage.js'
import * as invoices from './commands/invoices.js'
import * as audit from './commands/audit.js'
import * as jobs from './commands/jobs.js'
import * as stripe from './commands/stripe.js'

export type CommandContext = {
  app: ApplicationService
  output: Output
  setExitCode: (code: number) => void
}

const COMMANDS = [
  users,
  customers,
  credits,
  webhooks,
  subscriptions,
  payouts,
  earnings,
  agents,
  usage,
  invoices,
  audit,
  stripe,
  jobs,
]

export function buildProgram(context: CommandContext) {
  const program = new Command()
    .name('studio-billing')
    .description('Operate Studio Billing: users, Stripe customers, usage, invoices, payouts.')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({
      writeOut: (text) => process.stdout.write(text),
      writeErr: (text) => process.stderr.write(text),
    })
    .addHelpText('after', '\nExit codes: 0 ok, 1 failed, 2 bad usage, 3 partial (needs attention).')
  for (const command of COMMANDS) command.register(program, context)
  return program
}

async function main(argv: string[]) {
  const output = new Output()
  let exitCode: number = ExitCode.ok
  const args = argv.slice(2)

  // Help needs no database: answer it without booting the app.
  const needsApp =
    args.length > 0 && !args.some((arg) => arg === '--help' || arg === '-h' || arg === 'help')
  const booted = needsApp ? await bootApp() : null
  const context: CommandContext = {
    app: booted?.app as ApplicationService,
    output,
    setExitCode: (code) => {
      exitCode = code
    },
  }

  try {
    const program = buildProgram(context)
    if (args.length === 0) {
      program.outputHelp()
      return ExitCode.ok
    }
    await program.parseAsync(argv)
    return exitCode
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version')
        return ExitCode.ok
      return ExitCode.usage
    }
    if (error instanceof CliError) {
      output.warn(`Error: ${error.message}`)
      return error.exitCode
    }
    output.warn(`Error: ${error instanceof Error ? error.message : String(error)}`)
    return ExitCode.failed
  } finally {
    await booted?.close()
  }
}

main(process.argv)
  .then((code) => process.exit(code))
  .catch((error) => {
    process.stderr.write(`Error: ${error instanceof Error ? error.message : String(error)}\n`)
    process.exit(ExitCode.failed)
  })
