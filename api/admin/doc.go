// Package admin is hookflow's admin API under /api/v1 (Management), every
// route behind an API key's read or write scope, and the Web UI's remote
// codec (/codec): flows and their versions, checks and captures, the parse
// helper and test actions, and one type per feature on a shared core
// (adminCore): collections and records, destinations (pause, resume, the
// circuit), executions with their recovery (rerun, resume, replay,
// redeliver) and events, schedules, flow keys. The rules live in the
// feature packages (records, destinations, recovery, schedules, capture,
// notify); here are the routes, the bodies they read and the answers.
//
// It stands on api/httpapi (router, middleware, the one error shape) like
// the public surface, and imports nothing of it: package api composes both
// and hands this one the OpenAPI document (Config.OpenAPI).
package admin
