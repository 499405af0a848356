package api

// twoFactorOperations documents two-factor sign-in (your own account) and
// the Settings switch that requires it of everyone.
func twoFactorOperations() []Operation {
	status := map[string]any{"enabled": true, "enabled_at": "2026-12-04T18:00:00Z", "pending": false, "recovery_codes_left": 10, "required": false}
	codes := map[string]any{"recovery_codes": []any{"abcde-fghjk", "…"}}
	return []Operation{
		{Method: "GET", Path: "/api/v1/account/two-factor", Tag: "Account", Summary: "Your two-factor sign-in",
			Notes:  "pending: a set-up waits for its first code (POST …/confirm). required: Settings require it of every user.",
			Status: 200, Response: status, Errors: []int{401}},
		{Method: "POST", Path: "/api/v1/account/two-factor", Tag: "Account", Summary: "Start setting up two-factor sign-in",
			Notes: "Returns a new TOTP secret (RFC 6238: SHA-1, 6 digits, 30 s) and its otpauth:// URI for an authenticator app. " +
				"Nothing changes at sign-in until POST /api/v1/account/two-factor/confirm gets a code of it. Starting again replaces an unconfirmed secret; 409 while it is on.",
			Status: 201, Response: map[string]any{"secret": "JBSWY3DPEHPK3PXP…", "otpauth_uri": "otpauth://totp/Dokploy%20%28example.com%29:you@example.com?…"},
			Errors: []int{401, 409}},
		{Method: "POST", Path: "/api/v1/account/two-factor/confirm", Tag: "Account", Summary: "Turn two-factor sign-in on with a first code",
			Notes:  "code is the 6-digit code the app shows now. The answer carries 10 single-use recovery codes, shown only this once (stored hashed).",
			Status: 200, Body: map[string]any{"code": "123456"}, Response: map[string]any{"enabled": true, "recovery_codes": []any{"abcde-fghjk", "…"}},
			Errors: []int{400, 401, 409, 422}},
		{Method: "POST", Path: "/api/v1/account/two-factor/recovery-codes", Tag: "Account", Summary: "Replace your recovery codes",
			Notes:  "Needs your password. The old codes stop working; the new ones are shown only this once.",
			Status: 200, Body: map[string]any{"password": "your password"}, Response: codes, Errors: []int{400, 401, 409, 422}},
		{Method: "POST", Path: "/api/v1/account/two-factor/disable", Tag: "Account", Summary: "Turn two-factor sign-in off",
			Notes:  "Needs your password (an unconfirmed set-up is cancelled without it). The secret and recovery codes are deleted.",
			Status: 200, Body: map[string]any{"password": "your password"}, Response: map[string]any{"enabled": false}, Errors: []int{400, 401, 409, 422}},
		{Method: "GET", Path: "/api/v1/settings/security", Tag: "Settings", Summary: "Whether every user must use two-factor sign-in",
			Status: 200, Response: map[string]any{"require_two_factor": false}, Errors: []int{401}},
		{Method: "PATCH", Path: "/api/v1/settings/security", Tag: "Settings", Summary: "Require two-factor sign-in of every user, or stop requiring it",
			Notes: "Turning it on needs two-factor sign-in on for your own account (422 otherwise). A user without it is then sent to set it up before anything else " +
				"(browser sessions; the API answers 403 except under /api/v1/account/two-factor). API tokens are not affected.",
			Status: 200, Body: map[string]any{"require_two_factor": true}, Response: map[string]any{"require_two_factor": true}, Errors: []int{400, 401, 422}},
	}
}
