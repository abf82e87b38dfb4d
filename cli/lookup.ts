import type User from '#models/user'
import { CliError } from './output.js'

/** A user by id or email (case-insensitive), or a CliError (exit 1) saying who was not found. */
export async function findUser(reference: string): Promise<User> {
  const { default: UserModel } = await import('#models/user')
  const text = reference.trim()
  const user = /^\d+$/.test(text)
    ? await UserModel.find(Number(text))
    : await UserModel.query().whereRaw('lower(email) = ?', [text.toLowerCase()]).first()
  if (!user) throw new CliError(`No user "${reference}" (give a user id or an email)`)
  return user
}

/** The id of an optional `--user`/`--creator` filter (undefined when not given). */
export async function findUserId(reference: string | undefined): Promise<number | undefined> {
  if (reference === undefined) return undefined
  const user = await findUser(reference)
  return user.id
}
