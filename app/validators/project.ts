import vine from '@vinejs/vine'

/** Create or rename a project: a name, nothing else. */
export const projectValidator = vine.create({
  name: vine.string().trim().minLength(1).maxLength(80),
})
