package handlers

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"dokploy/db"
	"dokploy/jobs/notify/notifytest"
)

// An owner invites a member with deploy access to one project from the
// Users page; the link is shown once, opens a password form in another
// browser, signs the new user in with that project only, and then stops
// working.
func TestInvitations_InviteAcceptAndLinkWorksOnce(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	owner := a.setupAdmin()
	alpha, _ := a.createProject("alpha"), a.createProject("bravo")

	res := owner.postHTMX("/users/invitations", url.Values{"email": {"New@Example.com"}, "role": {"member"},
		"project_id": {fmt.Sprint(alpha.ID)}, "level": {"deploy"}})
	wantStatus(t, res, http.StatusOK)
	link := strings.TrimSpace(res.doc(t).Find("#invite-link").Text())
	if !strings.HasPrefix(link, "http://dokploy.test/invite/") {
		t.Fatalf("want the one-time link shown, got %q: %s", link, uiText(t, res))
	}
	token := strings.TrimPrefix(link, "http://dokploy.test/invite/")
	page := owner.get("/users")
	if strings.Contains(page.Body, token) {
		t.Error("the invitation link is shown again on reload")
	}
	if row := page.doc(t).Find(`[data-invitation="new@example.com"]`).Text(); !strings.Contains(row, "member") || !strings.Contains(row, "alpha (deploy)") {
		t.Errorf("pending invitation row: %q", row)
	}
	var hashed int
	if err := a.store.DB().Get(&hashed, `SELECT count(*) FROM invitations WHERE token_hash <> $1 AND email = 'new@example.com'`, token); err != nil || hashed != 1 {
		t.Errorf("want the invitation stored hashed: %d %v", hashed, err)
	}

	// A second invitation to the same address is refused, and changes nothing.
	res = owner.postHTMX("/users/invitations", url.Values{"email": {"new@example.com"}, "role": {"viewer"}})
	if res.Code != http.StatusUnprocessableEntity || !strings.Contains(uiText(t, res), "has an open invitation already") {
		t.Errorf("second invitation: want 422 saying why, got %d %s", res.Code, uiText(t, res))
	}

	invitee := a.browser()
	form := invitee.get("/invite/" + token)
	wantStatus(t, form, http.StatusOK)
	if body := uiText(t, form); !strings.Contains(body, "You are invited as member with access to alpha") {
		t.Errorf("invitation page: %s", body)
	}
	res = invitee.postForm("/invite/"+token, url.Values{"password": {"short"}, "password_confirm": {"short"}})
	wantStatus(t, res, http.StatusUnprocessableEntity)
	res = invitee.postForm("/invite/"+token, url.Values{"password": {"a long new password"}, "password_confirm": {"a long new password"}})
	if res.Code != http.StatusSeeOther || res.location() != "/" {
		t.Fatalf("accepting: want 303 to /, got %d %s", res.Code, uiText(t, res))
	}
	dash := uiText(t, invitee.get("/"))
	if !strings.Contains(dash, "alpha") || strings.Contains(dash, "bravo") {
		t.Errorf("the new member's dashboard: want alpha only: %s", dash)
	}
	if res := invitee.postHTMX(fmt.Sprintf("/projects/%d/apps", alpha.ID), url.Values{"name": {"x"}}); res.Code != http.StatusForbidden {
		t.Errorf("member with deploy creating an app: want 403, got %d", res.Code)
	}
	var accepted int
	if err := a.store.DB().Get(&accepted, `SELECT count(*) FROM audit_events WHERE action = 'invitation.accept' AND actor_email = 'new@example.com'`); err != nil || accepted != 1 {
		t.Errorf("want the acceptance in the audit log once, got %d (%v)", accepted, err)
	}
	// The link worked once.
	if res := a.browser().get("/invite/" + token); res.Code != http.StatusGone || !strings.Contains(uiText(t, res), "used already, revoked, or it expired") {
		t.Errorf("used link: want 410 saying so, got %d %s", res.Code, uiText(t, res))
	}
	res = a.browser().postForm("/invite/"+token, url.Values{"password": {"another long password"}, "password_confirm": {"another long password"}})
	wantStatus(t, res, http.StatusGone)
	if row := owner.get("/users").doc(t).Find(`[data-user="new@example.com"]`).Text(); !strings.Contains(row, "alpha") || !strings.Contains(row, "deploy") {
		t.Errorf("users page row of the new member: %q", row)
	}
}

// With an email channel set up, the invitation is mailed to the invitee
// (not to the channel's own recipients); admins cannot invite owners.
func TestInvitations_MailedThroughTheEmailChannel(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	a.setupAdmin()
	owner := a.tokenFor(1)
	smtpPort, mailAPI := notifytest.Mailpit(t)
	res, _ := a.apiJSON(http.MethodPost, "/api/v1/notifications", owner, map[string]any{
		"name": "ops mail", "kind": "email", "events": []string{"deploy.failed"},
		"config": map[string]any{"host": "127.0.0.1", "port": smtpPort, "from": "dokploy@example.com", "to": []string{"ops@example.com"}}})
	wantStatus(t, res, http.StatusCreated)

	res, body := a.apiJSON(http.MethodPost, "/api/v1/invitations", owner, map[string]any{"email": "dev@example.com", "role": "viewer", "expires_in_days": 3})
	wantStatus(t, res, http.StatusCreated)
	link, _ := body["link"].(string)
	if body["emailed_via"] != "ops mail" || !strings.Contains(link, "/invite/") {
		t.Fatalf("invitation answer: %s", res.Body)
	}
	var msgs struct {
		Messages []struct {
			ID string `json:"ID"`
			To []struct {
				Address string `json:"Address"`
			} `json:"To"`
			Subject string `json:"Subject"`
		} `json:"messages"`
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(msgs.Messages) == 0 && time.Now().Before(deadline) {
		resp, err := http.Get(mailAPI + "/api/v1/messages")
		if err != nil {
			t.Fatal(err)
		}
		_ = json.NewDecoder(resp.Body).Decode(&msgs)
		resp.Body.Close()
	}
	if len(msgs.Messages) != 1 || len(msgs.Messages[0].To) != 1 || msgs.Messages[0].To[0].Address != "dev@example.com" {
		t.Fatalf("want one mail to the invitee, got %+v", msgs.Messages)
	}
	resp, err := http.Get(mailAPI + "/api/v1/message/" + msgs.Messages[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(raw), link) {
		t.Errorf("the mail does not carry the link %s: %.400s", link, raw)
	}

	// An admin invites, but not owners; bad input changes nothing.
	admin := a.tokenFor(a.createTeamUser("admin2@example.com", db.RoleAdmin))
	res, _ = a.apiJSON(http.MethodPost, "/api/v1/invitations", admin, map[string]any{"email": "boss@example.com", "role": "owner"})
	if res.Code != http.StatusForbidden || !strings.Contains(res.Body, "Only an owner can invite another owner") {
		t.Errorf("admin inviting an owner: want 403, got %d %s", res.Code, res.Body)
	}
	for _, bad := range []map[string]any{
		{"email": "not-an-address", "role": "member"},
		{"email": "x@example.com", "role": "superuser"},
		{"email": "x@example.com", "role": "viewer", "project_id": 1, "level": "manage"},
		{"email": "x@example.com", "role": "member", "expires_in_days": 90},
	} {
		res, _ := a.apiJSON(http.MethodPost, "/api/v1/invitations", admin, bad)
		wantStatus(t, res, http.StatusUnprocessableEntity)
	}
	res, _ = a.apiJSON(http.MethodPost, "/api/v1/invitations", admin, map[string]any{"email": adminEmail, "role": "member"})
	if res.Code != http.StatusConflict || !strings.Contains(res.Body, "already has an account") {
		t.Errorf("inviting an existing user: want 409, got %d %s", res.Code, res.Body)
	}
	if n := a.count("invitations"); n != 1 {
		t.Errorf("refused invitations were stored: %d rows", n)
	}
}

// The users API changes roles and disables users within the rules: only
// owners change owners, nobody changes themselves, and the last owner
// stays one; project grants go through /projects/{id}/members.
func TestUsersAPI_RolesGrantsAndTheirLimits(t *testing.T) {
	t.Parallel()
	tm := newTeam(t)
	a := tm.a
	adminID := a.createTeamUser("admin2@example.com", db.RoleAdmin)
	admin, owner := a.tokenFor(adminID), a.tokenFor(1)
	ownerID := int64(1)

	res, body := a.apiJSON(http.MethodGet, "/api/v1/users", owner, nil)
	wantStatus(t, res, http.StatusOK)
	if body["total"] != float64(4) || !strings.Contains(res.Body, `"role":"viewer"`) || strings.Contains(res.Body, "password") {
		t.Errorf("users list: %s", res.Body)
	}
	res, _ = a.apiJSON(http.MethodPatch, fmt.Sprintf("/api/v1/users/%d", ownerID), owner, map[string]any{"role": "member"})
	if res.Code != http.StatusForbidden || !strings.Contains(res.Body, "yourself") {
		t.Errorf("owner demoting themselves: want 403, got %d %s", res.Code, res.Body)
	}
	res, _ = a.apiJSON(http.MethodPatch, fmt.Sprintf("/api/v1/users/%d", ownerID), admin, map[string]any{"disabled": true})
	if res.Code != http.StatusForbidden || !strings.Contains(res.Body, "Only an owner can disable an owner") {
		t.Errorf("admin disabling the owner: want 403, got %d %s", res.Code, res.Body)
	}
	// A second owner may not leave the first as the last one standing... and
	// demoting the only other owner is fine while one remains.
	res, _ = a.apiJSON(http.MethodPatch, fmt.Sprintf("/api/v1/users/%d", adminID), owner, map[string]any{"role": "owner"})
	wantStatus(t, res, http.StatusOK)
	res, _ = a.apiJSON(http.MethodGet, "/api/v1/users", tm.memberToken, nil)
	wantStatus(t, res, http.StatusForbidden)

	// Grants: the viewer cannot get deploy; the member moves from deploy to view.
	members := fmt.Sprintf("/api/v1/projects/%d/members", tm.projA.ID)
	res, body = a.apiJSON(http.MethodGet, members, owner, nil)
	if wantStatus(t, res, http.StatusOK); body["total"] != float64(2) {
		t.Errorf("members of A: %s", res.Body)
	}
	var viewerID int64
	_ = a.store.DB().Get(&viewerID, `SELECT id FROM users WHERE email = 'viewer@example.com'`)
	res, _ = a.apiJSON(http.MethodPut, fmt.Sprintf("%s/%d", members, viewerID), owner, map[string]any{"level": "deploy"})
	if res.Code != http.StatusUnprocessableEntity || !strings.Contains(res.Body, "viewers get view access only") {
		t.Errorf("deploy for a viewer: want 422, got %d %s", res.Code, res.Body)
	}
	res, _ = a.apiJSON(http.MethodPut, fmt.Sprintf("%s/%d", members, tm.memberID), owner, map[string]any{"level": "view"})
	wantStatus(t, res, http.StatusOK)
	res, _ = a.apiJSON(http.MethodPost, fmt.Sprintf("/api/v1/applications/%d/deploy", tm.appA.ID), tm.memberToken, nil)
	wantStatus(t, res, http.StatusForbidden)
	res, _ = a.apiJSON(http.MethodDelete, fmt.Sprintf("%s/%d", members, tm.memberID), owner, nil)
	wantStatus(t, res, http.StatusNoContent)
	res, _ = a.apiJSON(http.MethodGet, fmt.Sprintf("/api/v1/applications/%d", tm.appA.ID), tm.memberToken, nil)
	wantStatus(t, res, http.StatusNotFound)

	// Removing the member through the API: their session fails next request.
	res, _ = a.apiJSON(http.MethodDelete, fmt.Sprintf("/api/v1/users/%d", tm.memberID), owner, nil)
	wantStatus(t, res, http.StatusNoContent)
	if res := tm.member.get("/"); res.Code != http.StatusSeeOther {
		t.Errorf("removed member's session: want 303 to sign-in, got %d", res.Code)
	}
}
