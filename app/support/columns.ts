/**
 * node-postgres returns int8 (bigint) values as strings. Money and token
 * columns are bigint in the database and plain integers in the app: every
 * amount we store stays far below Number.MAX_SAFE_INTEGER (9e15 cents).
 */
export const bigintColumn = {
  consume: (value: string | number | null) => (value === null ? null : Number(value)),
}
