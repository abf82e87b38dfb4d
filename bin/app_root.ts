/**
 * The application root and the importer every entry point (server, ace,
 * tests, CLI) hands to the Ignitor, so app files load relative to the root.
 */
export const APP_ROOT = new URL('../', import.meta.url)

export const IMPORTER = (filePath: string) => {
  if (filePath.startsWith('./') || filePath.startsWith('../')) {
    return import(new URL(filePath, APP_ROOT).href)
  }
  return import(filePath)
}
