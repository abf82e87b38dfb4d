import { HttpContext } from '@adonisjs/core/http'
import { BaseSerializer } from '@adonisjs/core/transformers'
import type { SimplePaginatorMetaKeys } from '@adonisjs/lucid/types/querybuilder'

/**
 * JSON API responses: transformer output wrapped under `data`, the same
 * shape for every /api route.
 */
class ApiSerializer extends BaseSerializer<{
  Wrap: 'data'
  PaginationMetaData: SimplePaginatorMetaKeys
}> {
  wrap: 'data' = 'data'

  definePaginationMetaData(metaData: unknown): SimplePaginatorMetaKeys {
    if (!this.isLucidPaginatorMetaData(metaData)) {
      throw new Error('Invalid pagination metadata: expected Lucid paginator metadata')
    }
    return metaData
  }
}

declare module '@adonisjs/core/http' {
  export interface HttpContext {
    serialize: ApiSerializer['serialize']
  }
}

const serializer = new ApiSerializer()

export default class ApiProvider {
  register() {
    HttpContext.instanceProperty('serialize', function (
      this: HttpContext,
      ...args: Parameters<ApiSerializer['serialize']>
    ) {
      return serializer.serialize(args[0], this.containerResolver)
    } as ApiSerializer['serialize'])
  }
}
