import { test } from '@japa/runner'
import User from '#models/user'
import Project from '#models/project'
import PlanLimits from '#services/plan_limits'
import ProjectPolicy from '#policies/project_policy'
import UserTransformer from '#transformers/user_transformer'
import { formatCents } from '../../cli/format.js'

function user(attributes: Partial<Pick<User, 'id' | 'plan' | 'fullName'>>) {
  const model = new User()
  model.merge({ id: 1, plan: 'free', fullName: 'Ada Lovelace', ...attributes })
  return model
}

test.group('Plan limits', () => {
  test('free users get 1 project and 1 deploy, Premium users 5 and 5 (config defaults)', ({
    assert,
  }) => {
    assert.deepEqual(PlanLimits.forUser(user({ plan: 'free' })), { projects: 1, deploys: 1 })
    assert.deepEqual(PlanLimits.forUser(user({ plan: 'premium' })), { projects: 5, deploys: 5 })
  })
})

test.group('Project policy', () => {
  test('only the owner may view, update or delete; others get a 404', async ({ assert }) => {
    const owner = user({ id: 7 })
    const stranger = user({ id: 8 })
    const project = new Project()
    project.userId = 7
    const policy = new ProjectPolicy()
    for (const action of ['view', 'update', 'delete'] as const) {
      assert.isTrue(policy[action](owner, project))
      const denied = policy[action](stranger, project)
      assert.notStrictEqual(denied, true)
      assert.equal(typeof denied === 'object' && denied !== null ? denied.status : null, 404)
    }
  })
})

test.group('User transformer', () => {
  test('pages see plan and credits but never the password or Stripe ids', ({ assert }) => {
    const model = user({ plan: 'premium' })
    model.merge({
      email: 'ada@example.com',
      password: 'hash',
      creditsBalanceCents: 1234,
      stripeCustomerId: 'cus_1',
    })
    const data = new UserTransformer(model).toObject()
    assert.equal(data.plan, 'premium')
    assert.equal(data.creditsBalanceCents, 1234)
    assert.equal(data.initials, 'AL')
    assert.notProperty(data, 'password')
    assert.notProperty(data, 'stripeCustomerId')
  })
})

test.group('Money formatting', () => {
  test('integer cents become dollars only at the edge', ({ assert }) => {
    assert.equal(formatCents(0), '$0.00')
    assert.equal(formatCents(5), '$0.05')
    assert.equal(formatCents(123456), '$1,234.56')
  })
})
