import env from '#start/env'

/**
 * The LiteLLM proxy whose spend logs we bill (GET /spend/logs/v2).
 */
const litellmConfig = {
  baseUrl: env.get('LITELLM_BASE_URL'),
  apiKey: env.get('LITELLM_API_KEY'),
}

export default litellmConfig
