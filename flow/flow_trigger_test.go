package flow_test

import (
	"testing"

	"github.com/hookflow/hookflow/flow"
)

// The trigger's rules hold when a whole flow is decoded: each problem comes
// back with its path from the flow's root.
func TestTriggerConfigValidation(t *testing.T) {
	cases := []struct{ name, trigger, path, want string }{
		{"two auth schemes", `{auth: {github: {secret: a}, basic: {username: u, passwordSecret: p}}}`, "trigger.auth", "exactly one"},
		{"no auth scheme", `{auth: {}}`, "trigger.auth", "exactly one"},
		{"secret value instead of name", `{auth: {github: {secret: "s3cr3t-v@lue!"}}}`, "trigger.auth.github.secret", "secret's name"},
		{"basic without password", `{auth: {basic: {username: u}}}`, "trigger.auth.basic.passwordSecret", "is required"},
		{"hmac bad algorithm", `{auth: {hmac: {secret: s, header: X-Sig, algorithm: md5}}}`, "trigger.auth.hmac.algorithm", "one of"},
		{"tolerance too long", `{auth: {standardWebhooks: {secret: s, tolerance: 2h}}}`, "trigger.auth.standardWebhooks.tolerance", "at most 1h"},
		{"alias collides with raw part", `{parse: {body: [{path: x.body}]}}`, "trigger.parse.body[0].alias", "reserved"},
		{"duplicate alias", `{parse: {body: [{path: a.id}, {path: b.id}]}}`, "trigger.parse.body[1].alias", "already used"},
		{"alias not an identifier", `{parse: {query: [{path: "a.0"}]}}`, "trigger.parse.query[0].alias", "not an identifier"},
		{"enum without options", `{parse: {body: [{path: s, type: enum}]}}`, "trigger.parse.body[0].options", "needs its options"},
		{"header without name", `{parse: {headers: [{alias: x}]}}`, "trigger.parse.headers[0].name", "is required"},
		{"unknown type", `{parse: {body: [{path: d, type: datetime}]}}`, "trigger.parse.body[0].type", "one of: string, number, boolean, enum"},
		{"idempotency key both", `{idempotencyKey: {header: webhook-id, body: id}}`, "trigger.idempotencyKey", "exactly one"},
		{"enroll does not compile", `{enroll: {if: "trigger.body.x =="}}`, "trigger.enroll.if", "expression"},
		{"enroll reads vars", `{enroll: {if: "vars.x"}}`, "trigger.enroll.if", "unknown name vars"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := flow.DecodeYAML([]byte("id: a\ntrigger: " + tc.trigger + "\nsteps: [{id: s, type: set, values: {x: 1}}]\n"))
			requireError(t, fieldErrors(t, err), tc.path, tc.want)
		})
	}
}
