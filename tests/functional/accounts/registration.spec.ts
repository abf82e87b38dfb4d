import { test } from '@japa/runner'
import testUtils from '@adonisjs/core/services/test_utils'
import app from '@adonisjs/core/services/app'
import User from '#models/user'
import CustomerService from '#services/customer_service'
import { stripeClient, stripeSandbox } from '#tests/support/stripe'
import { flashedFieldErrors } from '#tests/support/http'

test.group('Registration', (group) => {
  group.each.setup(() => testUtils.db().withGlobalTransaction())
  group.each.teardown(() => stripeSandbox().clearFaults())

  test('registering creates the account, logs in and creates the Stripe customer', async ({
    client,
    assert,
  }) => {
    const response = await client
      .post('/register')
      .form({
        fullName: 'Ada Lovelace',
        email: 'Ada@Example.com',
        password: 'analytical-engine',
        passwordConfirmation: 'analytical-engine',
      })
      .withCsrfToken()
      .redirects(0)

    response.assertStatus(302)
    response.assertHeader('location', '/projects')
    const user = await User.findByOrFail('email', 'ada@example.com')
    assert.equal(user.fullName, 'Ada Lovelace')
    assert.notEqual(user.password, 'analytical-engine')
    assert.isTrue(user.password.startsWith('$scrypt$'))
    assert.equal(user.plan, 'free')
    assert.equal(user.creditsBalanceCents, 0)

    assert.match(user.stripeCustomerId ?? '', /^cus_/)
    const customer = await stripeClient().customers.retrieve(user.stripeCustomerId!)
    assert.isFalse(customer.deleted ?? false)
    if (!customer.deleted) {
      assert.equal(customer.email, 'ada@example.com')
      assert.equal(customer.metadata.user_id, String(user.id))
    }
  })

  test('invalid registrations are refused with field errors and create nothing', async ({
    client,
    assert,
  }) => {
    await User.create({
      fullName: 'Taken',
      email: 'taken@example.com',
      password: 'secret-password',
    })
    const cases = [
      {
        fullName: '',
        email: 'a@example.com',
        password: 'long-enough',
        passwordConfirmation: 'long-enough',
        field: 'fullName',
      },
      {
        fullName: 'A',
        email: 'not-an-email',
        password: 'long-enough',
        passwordConfirmation: 'long-enough',
        field: 'email',
      },
      {
        fullName: 'A',
        email: 'b@example.com',
        password: 'short',
        passwordConfirmation: 'short',
        field: 'password',
      },
      {
        fullName: 'A',
        email: 'c@example.com',
        password: 'long-enough',
        passwordConfirmation: 'different',
        field: 'passwordConfirmation',
      },
      {
        fullName: 'A',
        email: 'TAKEN@example.com',
        password: 'long-enough',
        passwordConfirmation: 'long-enough',
        field: 'email',
      },
    ]
    for (const { field, ...form } of cases) {
      const response = await client.post('/register').form(form).withCsrfToken().redirects(0)
      response.assertStatus(302)
      assert.property(flashedFieldErrors(response), field)
      assert.notProperty(response.flashMessages(), 'passwordConfirmation')
    }
    const count = await User.query().count('* as total')
    assert.equal(Number(count[0].$extras.total), 1)
  })

  test('registration succeeds while Stripe is unreachable; the customer is created later, once', async ({
    client,
    assert,
  }) => {
    stripeSandbox().failNext({ mode: 'reset', count: 20, path: '/v1/customers' })
    const response = await client
      .post('/register')
      .form({
        fullName: 'Grace Hopper',
        email: 'grace@example.com',
        password: 'compiler-1952',
        passwordConfirmation: 'compiler-1952',
      })
      .withCsrfToken()
      .redirects(0)
    response.assertStatus(302)
    response.assertHeader('location', '/projects')

    const user = await User.findByOrFail('email', 'grace@example.com')
    assert.isNull(user.stripeCustomerId)
    stripeSandbox().clearFaults()

    // Two concurrent repairs (web action and CLI, say) end with one customer.
    const customers = await app.container.make(CustomerService)
    const [first, second] = await Promise.all([
      customers.ensureCustomer(user),
      customers.ensureCustomer(user),
    ])
    assert.equal(first, second)
    await user.refresh()
    assert.equal(user.stripeCustomerId, first)
    const found = await stripeClient().customers.list({ email: 'grace@example.com', limit: 10 })
    assert.lengthOf(found.data, 1)
  })
})

test.group('Login and logout', (group) => {
  group.each.setup(() => testUtils.db().withGlobalTransaction())

  test('logs in with the right password and out again', async ({ client }) => {
    await User.create({ fullName: 'Lin', email: 'lin@example.com', password: 'right-password' })
    const login = await client
      .post('/login')
      .form({ email: 'lin@example.com', password: 'right-password' })
      .withCsrfToken()
      .redirects(0)
    login.assertStatus(302)
    login.assertHeader('location', '/projects')

    const user = await User.findByOrFail('email', 'lin@example.com')
    const logout = await client.post('/logout').loginAs(user).withCsrfToken().redirects(0)
    logout.assertHeader('location', '/login')
  })

  test('a wrong password is refused without a session', async ({ client }) => {
    await User.create({ fullName: 'Lin', email: 'lin2@example.com', password: 'right-password' })
    const response = await client
      .post('/login')
      .form({ email: 'lin2@example.com', password: 'wrong-password' })
      .withCsrfToken()
      .redirects(0)
    response.assertStatus(302)
    response.assertHeader('location', '/')
    const projects = await client.get('/projects').redirects(0)
    projects.assertHeader('location', '/login')
  })

  test('login attempts are rate limited per email and IP', async ({ client, assert }) => {
    const statuses: number[] = []
    for (let attempt = 0; attempt < 7; attempt++) {
      const response = await client
        .post('/login')
        .form({ email: 'brute@example.com', password: `guess-${attempt}` })
        .header('accept', 'application/json')
        .withCsrfToken()
        .redirects(0)
      statuses.push(response.status())
    }
    // AUTH_RATE_LIMIT=5 in .env.test: the 6th and 7th attempts are refused outright.
    assert.deepEqual(
      statuses.map((status) => status === 429),
      [false, false, false, false, false, true, true]
    )
  })

  test('pages need a session; JSON clients get a 401', async ({ client }) => {
    const page = await client.get('/projects').redirects(0)
    page.assertStatus(302)
    page.assertHeader('location', '/login')
    const api = await client.get('/api/projects').header('accept', 'application/json')
    api.assertStatus(401)
  })
})
