import { configApp } from '@adonisjs/eslint-config'

export default configApp(
  {
    ignores: ['build/**', 'tmp/**', 'public/assets/**', '.adonisjs/**', 'node_modules/**'],
  },
  {
    // The typed Link/Form of @adonisjs/inertia/react need the Tuyau route registry,
    // which this app does not use; pages link with plain paths.
    rules: {
      '@adonisjs/prefer-adonisjs-inertia-link': 'off',
      '@adonisjs/prefer-adonisjs-inertia-form': 'off',
    },
  }
)
