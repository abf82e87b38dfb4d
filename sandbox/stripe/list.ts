/** Cursor pagination shared by every list endpoint (newest first). */
import type Stripe from 'stripe'
import { invalidParameter, invalidRequest, resourceMissing } from './errors.js'

export interface PageParams {
  limit?: number | null
  starting_after?: string | null
  ending_before?: string | null
}

export interface Positioned<T> {
  seq: number
  value: T
}

export interface PaginateOptions {
  /** `url` field of the list, e.g. `/v1/customers`. */
  url: string
  /** Position of a cursor id (deleted objects still have one), or undefined if unknown. */
  seqOf: (id: string) => number | undefined
  /** Noun for the "No such …" error on an unknown cursor. */
  label: string
}

export const DEFAULT_LIMIT = 10
export const MAX_LIMIT = 100

/** `records` must be sorted newest first (highest seq first). */
export function paginate<T>(
  records: Array<Positioned<T>>,
  params: PageParams,
  options: PaginateOptions
): Stripe.ApiList<T> {
  const limit = params.limit ?? DEFAULT_LIMIT
  if (limit < 1 || limit > MAX_LIMIT) {
    throw invalidParameter(
      'limit',
      `Invalid limit: must be between 1 and ${MAX_LIMIT}`,
      'parameter_invalid_integer'
    )
  }
  if (params.starting_after && params.ending_before) {
    throw invalidRequest(
      'You may only specify one of these parameters: ending_before, starting_after.',
      {
        validation: true,
      }
    )
  }
  const cursorSeq = (id: string, param: string): number => {
    const seq = options.seqOf(id)
    if (seq === undefined) throw resourceMissing(options.label, id, param)
    return seq
  }

  let page: Array<Positioned<T>>
  let hasMore: boolean
  if (params.ending_before) {
    const seq = cursorSeq(params.ending_before, 'ending_before')
    const newer = records.filter((record) => record.seq > seq)
    page = newer.slice(Math.max(0, newer.length - limit))
    hasMore = newer.length > limit
  } else {
    const after = params.starting_after
      ? cursorSeq(params.starting_after, 'starting_after')
      : undefined
    const candidates =
      after === undefined ? records : records.filter((record) => record.seq < after)
    page = candidates.slice(0, limit)
    hasMore = candidates.length > limit
  }
  return {
    object: 'list',
    data: page.map((record) => record.value),
    has_more: hasMore,
    url: options.url,
  }
}
