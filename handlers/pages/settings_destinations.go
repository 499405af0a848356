package pages

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"dokploy/db"
	"dokploy/handlers/web"
	"dokploy/jobs/ops"
	"dokploy/views"
)

// ---- settings page: S3 destinations for database backups ----

// destinationsPanel is the data of the "settings_destinations" partial.
// A secret key is never in it: the form only says whether one is stored.
type destinationsPanel struct {
	Destinations []db.Destination
	Form         *views.Form
	EditID       int64  // the destination the form edits, 0 when adding
	Message      string // what the last action did
	Error        string // why it was refused
	CSRF         string
}

// Editing reports whether the form edits a saved destination.
func (p *destinationsPanel) Editing() bool { return p.EditID != 0 }

// destinationTest is the data of the "destination_test" partial: a test's
// outcome, or why the form could not be tested.
type destinationTest struct {
	Result  ops.TestResult
	Problem string
}

func newDestinationForm() *views.Form {
	f := views.NewForm()
	f.Values["path_style"] = "on"
	return f
}

func (h *Handler) loadDestinations(c echo.Context) (*destinationsPanel, error) {
	list, err := h.Store.Destinations(c.Request().Context())
	if err != nil {
		return nil, err
	}
	return &destinationsPanel{Destinations: list, Form: newDestinationForm(), CSRF: web.CSRF(c)}, nil
}

// destinationFromForm reads the destination form onto d (keeping the typed
// values on form) and returns the secret key typed, "" for none.
func destinationFromForm(c echo.Context, d *db.Destination, form *views.Form) string {
	text := func(k string) string {
		v := strings.TrimSpace(c.FormValue(k))
		form.Values[k] = v
		return v
	}
	d.Name, d.Endpoint, d.Region = text("name"), text("endpoint"), text("region")
	d.Bucket, d.Prefix, d.AccessKey = text("bucket"), text("prefix"), text("access_key")
	d.PathStyle = c.FormValue("path_style") == "on"
	if d.PathStyle {
		form.Values["path_style"] = "on"
	}
	return strings.TrimSpace(c.FormValue("secret_key"))
}

func destinationToForm(d *db.Destination) *views.Form {
	f := views.NewForm()
	v := f.Values
	v["name"], v["endpoint"], v["region"], v["bucket"], v["prefix"], v["access_key"] = d.Name, d.Endpoint, d.Region, d.Bucket, d.Prefix, d.AccessKey
	if d.PathStyle {
		v["path_style"] = "on"
	}
	return f
}

// renderDestinations answers with the panel; status follows the form.
func (h *Handler) renderDestinations(c echo.Context, p *destinationsPanel) error {
	status := http.StatusOK
	if !p.Form.Valid() || p.Error != "" {
		status = http.StatusUnprocessableEntity
	}
	return h.Partial(c, status, "settings_destinations", p)
}

// ShowDestinations is the settings page's "Backup destinations" panel.
func (h *Handler) ShowDestinations(c echo.Context) error {
	p, err := h.loadDestinations(c)
	if err != nil {
		return err
	}
	return h.renderDestinations(c, p)
}

// EditDestination is the panel with the form filled from the :id
// destination; the secret key field stays empty (kept unless retyped).
func (h *Handler) EditDestination(c echo.Context) error {
	d, err := h.loadDestination(c)
	if err != nil {
		return err
	}
	p, err := h.loadDestinations(c)
	if err != nil {
		return err
	}
	p.EditID, p.Form = d.ID, destinationToForm(d)
	return h.renderDestinations(c, p)
}

func (h *Handler) loadDestination(c echo.Context) (*db.Destination, error) {
	id, err := web.IDParam(c)
	if err != nil {
		return nil, err
	}
	return h.Store.Destination(c.Request().Context(), id)
}

// CreateDestination saves the Add form.
func (h *Handler) CreateDestination(c echo.Context) error {
	form := views.NewForm()
	d := &db.Destination{}
	secret := destinationFromForm(c, d, form)
	if err := h.Ops.CreateDestination(c.Request().Context(), d, secret); err != nil && !formErrors(form, err) {
		return err
	}
	p, err := h.loadDestinations(c)
	if err != nil {
		return err
	}
	if !form.Valid() {
		p.Form = form
	} else {
		p.Message = "Added " + d.Name + ". Database pages can now back up to it."
	}
	return h.renderDestinations(c, p)
}

// UpdateDestination saves the Edit form; an empty secret key keeps the
// stored one.
func (h *Handler) UpdateDestination(c echo.Context) error {
	d, err := h.loadDestination(c)
	if err != nil {
		return err
	}
	form := views.NewForm()
	secret := destinationFromForm(c, d, form)
	if err := h.Ops.UpdateDestination(c.Request().Context(), d, secret); err != nil && !formErrors(form, err) {
		return err
	}
	p, err := h.loadDestinations(c)
	if err != nil {
		return err
	}
	if !form.Valid() {
		p.EditID, p.Form = d.ID, form
	} else {
		p.Message = "Saved " + d.Name + "."
	}
	return h.renderDestinations(c, p)
}

// DeleteDestination removes a destination no plan uses; otherwise the
// panel says which plans to move first.
func (h *Handler) DeleteDestination(c echo.Context) error {
	d, err := h.loadDestination(c)
	if err != nil {
		return err
	}
	msg, problem, err := outcome(h.Ops.DeleteDestination(c.Request().Context(), d.ID), "Deleted "+d.Name+". Backups already in its bucket stay there.")
	if err != nil {
		return err
	}
	p, err := h.loadDestinations(c)
	if err != nil {
		return err
	}
	p.Message = msg
	if problem != "" {
		p.Error = "Cannot delete " + d.Name + ": " + problem + "."
	}
	return h.renderDestinations(c, p)
}

// TestDestinationForm tests the form's current values without saving:
// it writes, reads back and deletes a small object. Editing a saved
// destination with the secret key left empty tests with the stored key.
func (h *Handler) TestDestinationForm(c echo.Context) error {
	ctx := c.Request().Context()
	d := &db.Destination{}
	if id, _ := strconv.ParseInt(c.FormValue("id"), 10, 64); id > 0 {
		saved, err := h.Store.Destination(ctx, id)
		if err != nil {
			return err
		}
		d.ID = saved.ID
	}
	secret := destinationFromForm(c, d, views.NewForm())
	if d.Name == "" {
		d.Name = "test" // a name is not needed to test
	}
	res, err := h.Ops.TestDestination(ctx, d, secret)
	var fields ops.FieldErrors
	switch {
	case errors.As(err, &fields):
		_, msg := fields.First()
		return h.Partial(c, http.StatusUnprocessableEntity, "destination_test", &destinationTest{Problem: msg})
	case err != nil:
		return err
	}
	return h.Partial(c, http.StatusOK, "destination_test", &destinationTest{Result: res})
}
