import { test } from '@japa/runner'
import User from '#models/user'
import { setUpBrowser, uniqueEmail } from '#tests/browser/helpers'

test.group('Registration form validation', () => {
  test('a mismatched confirmation shows the error next to that field and creates nothing', async ({
    visit,
    browserContext,
    assert,
  }) => {
    const errors = await setUpBrowser(browserContext)
    const email = uniqueEmail('mismatch')

    const page = await visit('/register')
    await page.getByLabel('Full name').fill('Katherine Johnson')
    await page.getByLabel('Email').fill(email)
    await page.getByLabel('Password', { exact: true }).fill('trajectory-1962')
    await page.getByLabel('Confirm password').fill('trajectory-1963')
    await page.getByRole('button', { name: 'Create account' }).click()

    const confirmation = page.getByLabel('Confirm password')
    await page.assertVisible('#passwordConfirmation-error')
    assert.match(await page.locator('#passwordConfirmation-error').innerText(), /\S/)
    await page.assertExists(
      page
        .locator('.field', { has: page.locator('#passwordConfirmation') })
        .locator('#passwordConfirmation-error')
    )
    assert.equal(await confirmation.getAttribute('aria-invalid'), 'true')
    assert.equal(await confirmation.getAttribute('aria-describedby'), 'passwordConfirmation-error')
    for (const field of ['fullName', 'email', 'password']) {
      await page.assertNotExists(`#${field}-error`)
    }

    // Still on the form, the typed name and email kept, the passwords cleared.
    await page.assertPath('/register')
    await page.assertInputValue(page.getByLabel('Full name'), 'Katherine Johnson')
    await page.assertInputValue(page.getByLabel('Email'), email)
    await page.assertInputValue(page.getByLabel('Password', { exact: true }), '')
    await page.assertInputValue(confirmation, '')
    assert.isNull(await User.findBy('email', email))
    assert.deepEqual(errors, [])
  })

  test('an email already registered shows the error next to the email field', async ({
    visit,
    browserContext,
    assert,
  }) => {
    const errors = await setUpBrowser(browserContext)
    const email = uniqueEmail('taken')
    await User.create({ fullName: 'First Owner', email, password: 'secret-password' })

    const page = await visit('/register')
    await page.getByLabel('Full name').fill('Second Owner')
    await page.getByLabel('Email').fill(email.toUpperCase())
    await page.getByLabel('Password', { exact: true }).fill('long-enough-password')
    await page.getByLabel('Confirm password').fill('long-enough-password')
    await page.getByRole('button', { name: 'Create account' }).click()

    await page.assertVisible('#email-error')
    assert.match(await page.locator('#email-error').innerText(), /\S/)
    assert.equal(await page.getByLabel('Email').getAttribute('aria-describedby'), 'email-error')
    await page.assertNotExists('#passwordConfirmation-error')
    await page.assertPath('/register')
    assert.lengthOf(await User.query().where('email', email), 1)
    assert.deepEqual(errors, [])
  })
})
