package pages

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"dokploy/db"
	"dokploy/handlers/web"
	"dokploy/jobs/ops"
	"dokploy/views"
)

// usersPage is the Users page: who can sign in, with which role and
// projects, the open invitations and every API token.
type usersPage struct {
	Users       []userRow
	Invitations []db.Invitation
	Tokens      []db.TokenWithOwner
	Projects    []db.Project
	Invite      *views.Form
	Sent        *ops.SentInvitation // the link just made, shown once
	Msg, Err    string
	Me          int64
	Owner       bool // the viewer is an owner: may change owners
	CSRF        string
}

type userRow struct {
	db.TeamUser
	Grants []db.ProjectMember // Email holds the project's name
}

// Grantable tells whether the user works on granted projects only.
func (u userRow) Grantable() bool { return !u.Role.Administers() }

func (h *Handler) loadUsers(c echo.Context) (*usersPage, error) {
	ctx := c.Request().Context()
	p := &usersPage{Invite: views.NewForm(), Me: web.CurrentUser(c).ID, Owner: web.Access(c).Owner(), CSRF: web.CSRF(c)}
	users, err := h.Store.TeamUsers(ctx)
	if err != nil {
		return nil, err
	}
	grants, err := h.Store.AllGrants(ctx)
	if err != nil {
		return nil, err
	}
	byUser := map[int64][]db.ProjectMember{}
	for _, g := range grants {
		byUser[g.UserID] = append(byUser[g.UserID], g)
	}
	for _, u := range users {
		p.Users = append(p.Users, userRow{TeamUser: u, Grants: byUser[u.ID]})
	}
	if p.Invitations, err = h.Store.OpenInvitations(ctx); err != nil {
		return nil, err
	}
	if p.Tokens, err = h.Store.AllAPITokens(ctx); err != nil {
		return nil, err
	}
	if p.Projects, err = h.Store.ProjectNames(ctx, nil); err != nil {
		return nil, err
	}
	return p, nil
}

// ShowUsersPage lists users, invitations and tokens (owners and admins).
func (h *Handler) ShowUsersPage(c echo.Context) error {
	p, err := h.loadUsers(c)
	if err != nil {
		return err
	}
	return h.Page(c, http.StatusOK, "users", &views.Page{Title: "Users", Active: "users", Data: p})
}

// usersAnswer re-renders the page's body after an action, with what it
// said: 422 when it was refused.
func (h *Handler) usersAnswer(c echo.Context, err error, done string, edit func(*usersPage)) error {
	msg, problem, err := outcome(err, done)
	if err != nil {
		return err
	}
	p, err := h.loadUsers(c)
	if err != nil {
		return err
	}
	p.Msg, p.Err = msg, problem
	if edit != nil {
		edit(p)
	}
	status := http.StatusOK
	if problem != "" || !p.Invite.Valid() {
		status = http.StatusUnprocessableEntity
	}
	if !web.IsHTMX(c) {
		return h.Page(c, status, "users", &views.Page{Title: "Users", Active: "users", Data: p})
	}
	return h.Partial(c, status, "users_body", p)
}

// InviteUser makes a one-time invitation link (and mails it when an email
// channel is set up).
func (h *Handler) InviteUser(c echo.Context) error {
	form := views.NewForm()
	for _, k := range []string{"email", "role", "project_id", "level", "expires_in_days"} {
		form.Values[k] = strings.TrimSpace(c.FormValue(k))
	}
	in := ops.NewInvitation{Email: form.Values["email"], Role: form.Values["role"], Level: form.Values["level"]}
	in.ExpiresInDays, _ = strconv.Atoi(form.Values["expires_in_days"]) // a select; 0 is the default
	if v := form.Values["project_id"]; v != "" {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			id = -1 // refused as no such project
		}
		in.ProjectID = &id
	}
	sent, err := h.Ops.Invite(c.Request().Context(), web.Access(c), in, h.InvitationLink)
	if err != nil && !formErrors(form, err) {
		return h.usersAnswer(c, err, "", nil)
	}
	return h.usersAnswer(c, nil, "", func(p *usersPage) {
		if !form.Valid() {
			p.Invite = form
			return
		}
		p.Sent = sent
	})
}

func (h *Handler) RevokeInvitation(c echo.Context) error {
	id, err := web.IDParam(c)
	if err != nil {
		return err
	}
	err = h.Ops.RevokeInvitation(c.Request().Context(), web.Access(c), id)
	return h.usersAnswer(c, err, "Invitation revoked: its link no longer works.", nil)
}

// userAction runs one change on the user named by :id and re-renders.
func (h *Handler) userAction(c echo.Context, done string, act func(id int64) error) error {
	id, err := web.IDParam(c)
	if err != nil {
		return err
	}
	u, err := h.Store.TeamUser(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return h.usersAnswer(c, act(id), strings.ReplaceAll(done, "{email}", u.Email), nil)
}

func (h *Handler) SetUserRole(c echo.Context) error {
	role := c.FormValue("role")
	return h.userAction(c, "{email} is now "+role+".", func(id int64) error {
		return h.Ops.SetUserRole(c.Request().Context(), web.Access(c), id, role)
	})
}

func (h *Handler) DisableUser(c echo.Context) error {
	return h.userAction(c, "{email} is disabled: their sessions ended and their tokens are refused.", func(id int64) error {
		return h.Ops.SetUserDisabled(c.Request().Context(), web.Access(c), id, true)
	})
}

func (h *Handler) EnableUser(c echo.Context) error {
	return h.userAction(c, "{email} can sign in again.", func(id int64) error {
		return h.Ops.SetUserDisabled(c.Request().Context(), web.Access(c), id, false)
	})
}

func (h *Handler) RemoveUser(c echo.Context) error {
	return h.userAction(c, "{email} is removed.", func(id int64) error {
		return h.Ops.RemoveUser(c.Request().Context(), web.Access(c), id)
	})
}

// GrantProject gives the user a level on a project.
func (h *Handler) GrantProject(c echo.Context) error {
	projectID, err := strconv.ParseInt(c.FormValue("project_id"), 10, 64)
	if err != nil {
		return h.usersAnswer(c, ops.FieldErrors{"project_id": "Choose a project."}, "", nil)
	}
	level := c.FormValue("level")
	return h.userAction(c, "{email} has "+level+" access to the project.", func(id int64) error {
		return h.Ops.SetProjectMember(c.Request().Context(), web.Access(c), projectID, id, level)
	})
}

// RevokeGrant takes the user's access to a project away.
func (h *Handler) RevokeGrant(c echo.Context) error {
	projectID, err := web.PathID(c, "pid")
	if err != nil {
		return err
	}
	return h.userAction(c, "{email} no longer has access to the project.", func(id int64) error {
		return h.Ops.RemoveProjectMember(c.Request().Context(), web.Access(c), projectID, id)
	})
}

// RevokeAnyToken ends any user's API token (owners and admins).
func (h *Handler) RevokeAnyToken(c echo.Context) error {
	id, err := web.IDParam(c)
	if err != nil {
		return err
	}
	err = h.Ops.RevokeAPIToken(c.Request().Context(), web.Access(c), id)
	return h.usersAnswer(c, err, "Token revoked.", nil)
}
