/*
| Creator routes: earnings, Connect onboarding, agent publishing (pages and
| the JSON API). Imported by start/routes.ts.
*/
