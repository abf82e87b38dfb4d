import { test } from '@japa/runner'
import UsageStore, { recordFromSpendLog } from '#services/usage/usage_store'
import type { SpendLogRow } from '#services/usage/litellm_client'
import {
  createAgent,
  createProject,
  createUser,
  resetUsage,
  spendRow,
  storedById,
  storedRows,
} from './helpers.js'

const PRICES = {
  'openai/gpt-4o-mini': { inputMicrosPerMillion: 150_000, outputMicrosPerMillion: 600_000 },
}

function record(id: string, fields: Record<string, unknown>) {
  return recordFromSpendLog(spendRow(id, '01:10:00', fields) as SpendLogRow)
}

test.group('Usage pricing at ingestion (cost_micros per request)', (group) => {
  group.each.setup(() => resetUsage())

  test('each request is priced once by the first rule that applies', async ({ assert }) => {
    const ada = await createUser('ada@example.com')
    const apiAgent = await createAgent('sql-helper', { input: 2_000_000, output: 8_000_000 })
    const freeAgent = await createAgent('ui-designer')
    const project = await createProject(ada, 'shop')
    const store = new UsageStore({ markupBps: 1500, modelPrices: PRICES })
    const user = String(ada)

    const counts = await store.ingest(
      [
        // Our table price: 1000 x 0.15 + 100 x 0.6 = 210 micros, +15% = 241.5 → 242 (half to even).
        record('table', { user, spend: 0.00099 }),
        // An api-priced agent (tag): 1000 x 2 + 100 x 8 = 2800 micros, no markup.
        record('agent-tag', { user, request_tags: ['agent:sql-helper', 'User-Agent: node'] }),
        // The same agent by id in spend_logs_metadata, with a project tag.
        record('agent-meta', {
          user,
          metadata: { spend_logs_metadata: { agent_id: String(apiAgent) } },
          request_tags: ['project:shop'],
        }),
        // A free agent does not change the price: the model's.
        record('agent-free', { user, request_tags: ['agent:ui-designer'] }),
        // Unpriced group: LiteLLM's spend (1234 micros) +15% = 1419.1 → 1419, reported.
        record('unpriced', { user, model_group: 'local-llama', spend: 0.001234 }),
        // Unpriced and LiteLLM says 0 (its unmapped-model case): 0, reported.
        record('unpriced-zero', { user, model_group: 'local-llama', spend: 0.0 }),
        // A LiteLLM cache hit: 0.
        record('hit_cache_hit1788257702', { user, cache_hit: 'True', spend: 0.0 }),
        // An agent slug we do not know: priced by the model, the reference kept.
        record('agent-unknown', { user, request_tags: ['agent:ghost'] }),
      ],
      'pull'
    )
    assert.equal(counts.inserted, 8)
    assert.deepEqual(counts.unpriced, { 'local-llama': 2 })

    const rows = await storedById()
    assert.equal(rows.table.cost_micros, '242')
    assert.equal(rows.table.spend_micros, '990')
    assert.equal(rows['agent-tag'].cost_micros, '2800')
    assert.equal(rows['agent-tag'].agent_id, String(apiAgent))
    assert.equal(rows['agent-meta'].cost_micros, '2800')
    assert.equal(rows['agent-meta'].project_id, String(project))
    assert.equal(rows['agent-free'].agent_id, String(freeAgent))
    assert.equal(rows['agent-free'].cost_micros, '242')
    assert.equal(rows.unpriced.cost_micros, '1419')
    assert.equal(rows.unpriced.metadata.pricing, 'litellm_spend')
    assert.equal(rows['unpriced-zero'].cost_micros, '0')
    assert.equal(rows['hit_cache_hit1788257702'].cost_micros, '0')
    assert.isTrue(rows['hit_cache_hit1788257702'].cache_hit)
    assert.isNull(rows['agent-unknown'].agent_id)
    assert.equal(rows['agent-unknown'].metadata.agent_ref, 'ghost')
  })

  test('a stored cost never changes when prices change later', async ({ assert }) => {
    const ada = await createUser('ada@example.com')
    const row = () => record('fixed', { user: String(ada) })
    await new UsageStore({ markupBps: 0, modelPrices: PRICES }).ingest([row()], 'pull')
    const repriced = new UsageStore({
      markupBps: 5000,
      modelPrices: {
        'openai/gpt-4o-mini': { inputMicrosPerMillion: 1_000_000, outputMicrosPerMillion: 1 },
      },
    })
    const again = await repriced.ingest([row()], 'pull')
    assert.equal(again.inserted, 0)
    const [stored] = await storedRows()
    assert.equal(stored.cost_micros, '210')
  })
})
